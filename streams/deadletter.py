"""Dead letters: bad input with the reason it was refused, within the size budget."""

from __future__ import annotations

from agents.budget import DEFAULT_MAX_MESSAGE_BYTES, MAX_REASON_CHARS, dead_letter_key
from agents.budget import dead_letter as budgeted_dead_letter
from schemas.messages import MessageMeta, Outgoing

__all__ = ["MAX_REASON_CHARS", "dead_letter"]


def dead_letter(
    *,
    raw: bytes,
    meta: MessageMeta,
    reason: str,
    error_type: str,
    deadletter_topic: str,
    source: str = "autoclerk",
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> Outgoing:
    """The edge's last resort, when the store refused to record a dead letter: the
    same builder, key and source as the service's (`agents.budget`), without a row.

    The edge writes no `dead_letters` row (the processor failed, perhaps the database
    with it), so an original too large to embed is referenced only by its source
    position (topic, partition, offset), size and SHA-256.
    """
    return budgeted_dead_letter(
        raw=raw,
        meta=meta,
        reason=reason,
        error_type=error_type,
        topic=deadletter_topic,
        key=dead_letter_key(meta),
        source=source,
        record=None,
        max_bytes=max_bytes,
    )
