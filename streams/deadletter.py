"""Dead letters: bad input kept whole, with the reason it was refused."""

from __future__ import annotations

import base64

from schemas.events import DeadLetter, Envelope
from schemas.messages import MessageMeta, Outgoing

MAX_REASON_CHARS = 2000


def dead_letter(
    *,
    raw: bytes,
    meta: MessageMeta,
    reason: str,
    error_type: str,
    deadletter_topic: str,
    source: str = "autoclerk.streams",
) -> Outgoing:
    """An `Outgoing` to the dead-letter topic that carries the original bytes.

    Keyed like the original so a key's dead letters stay in order with its other events.
    """
    payload = DeadLetter(
        original_base64=base64.b64encode(raw).decode("ascii"),
        reason=reason[:MAX_REASON_CHARS],
        error_type=error_type,
        topic=meta.topic,
        partition=meta.partition,
        offset=meta.offset,
    )
    envelope = Envelope[DeadLetter](type="document.deadletter", source=source, payload=payload)
    return Outgoing(
        topic=deadletter_topic,
        key=meta.key,
        value=envelope.model_dump_json().encode("utf-8"),
    )
