"""Dead letters: bad input with the reason it was refused, within the size budget."""

from __future__ import annotations

from agents.budget import DEFAULT_MAX_MESSAGE_BYTES, MAX_REASON_CHARS
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
    source: str = "autoclerk.streams",
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> Outgoing:
    """An `Outgoing` to the dead-letter topic that carries the original bytes when the
    whole message fits `max_bytes`.

    The edge writes no `dead_letters` row (the processor failed, perhaps the database
    with it), so an original too large to embed is referenced only by its source
    position (topic, partition, offset), size and SHA-256. Keyed like the original so
    a key's dead letters stay in order with its other events.
    """
    return budgeted_dead_letter(
        raw=raw,
        meta=meta,
        reason=reason,
        error_type=error_type,
        topic=deadletter_topic,
        key=meta.key,
        source=source,
        record=None,
        max_bytes=max_bytes,
    )
