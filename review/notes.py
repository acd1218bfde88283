"""Fixed messages a redirect can ask a page to show, by code (`/queue?note=queue-empty`).

The query carries a code, never the text: a link cannot make the page say anything
but these. An unknown code shows nothing.
"""

from __future__ import annotations

NOTES: dict[str, str] = {
    "queue-empty": "The queue is empty: no task is waiting for you.",
}


def note_text(code: str) -> str | None:
    return NOTES.get(code)
