"""Outgoing events within a size budget.

A producer refuses a message over its request size (aiokafka: 1 MiB by default),
and a message refused once is refused forever: it must not be built in the first
place. Every event the service emits is therefore fitted to `max_bytes` (key plus
value): the parts a consumer can do without are shortened, then left out, and each
cut is recorded in the payload's `omitted` together with the database row that
keeps the full value (a claim check). Identity fields (ids, kind, outcome) are
never cut, so a consumer can always fetch what it needs.

Dead letters carry the original input only when the whole message fits; otherwise
they say so (`original_omitted`) and where the bytes are kept.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from schemas.events import DeadLetter, Envelope, Omission, StoredRecord
from schemas.messages import MessageMeta, Outgoing

DEFAULT_MAX_MESSAGE_BYTES = 900_000
"""Under aiokafka's default `max_request_size` (1 MiB) with room for the record
framing, and under Kafka's default broker `message.max.bytes`."""

MAX_REASON_CHARS = 2000

# String caps tried in turn before parts are left out; a list is cut to cap // 16
# items (at least 4), so many small items are bounded as well as one large one.
_CAPS = (4096, 512, 64)


@dataclass(frozen=True)
class Part:
    """A top-level payload field that may be shortened or left out, and where its
    full value is kept. `empty` is its value when left out (None, [] or {})."""

    path: str
    record: StoredRecord | None
    empty: Any = None


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with a marker that gives the full length."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated: {len(text)} chars]"


def size_of(message: Outgoing) -> int:
    """What the budget counts: key plus value bytes."""
    return len(message.key or b"") + len(message.value)


def fit(*, topic: str, key: str, envelope: Envelope[Any], parts: Sequence[Part], max_bytes: int) -> Outgoing:
    """The envelope as a message of at most `max_bytes`, cutting `parts` as needed.

    Only if the budget is smaller than the envelope without any of its parts does
    the result stay over it; the edge then refuses it as undeliverable.
    """
    message = _encode(topic, key, envelope)
    if size_of(message) <= max_bytes:
        return message
    payload: BaseModel = envelope.payload
    data = payload.model_dump(mode="json")
    for cap in _CAPS:
        shortened, omitted = dict(data), list(_omitted(payload))
        for part in parts:
            value = data.get(part.path)
            short = _shorten(value, cap)
            if short != value:
                shortened[part.path] = short
                omitted.append(_omission(part, "truncated", value))
        candidate = _with(topic, key, envelope, shortened, omitted)
        if candidate is not None and size_of(candidate) <= max_bytes:
            return candidate
    left, omitted = dict(data), list(_omitted(payload))
    for part in parts:  # least needed first
        if data.get(part.path) in (None, [], {}):
            continue
        left[part.path] = part.empty
        omitted.append(_omission(part, "left_out", data.get(part.path)))
        candidate = _with(topic, key, envelope, left, omitted)
        if candidate is not None:
            message = candidate
            if size_of(candidate) <= max_bytes:
                break
    return message


def dead_letter_key(meta: MessageMeta) -> bytes:
    """Every dead letter's key, whichever layer refused the message: the original's
    key, so a key's dead letters stay in order with its other events; its position
    when it had none."""
    return meta.key if meta.key else f"{meta.topic}:{meta.partition}:{meta.offset}".encode()


def dead_letter(
    *,
    raw: bytes,
    meta: MessageMeta,
    reason: str,
    error_type: str,
    topic: str,
    key: bytes | None,
    source: str,
    record: StoredRecord | None,
    max_bytes: int,
) -> Outgoing:
    """A dead letter that embeds `raw` only when the whole message fits the budget."""
    digest = hashlib.sha256(raw).hexdigest()
    payload = DeadLetter(
        original_base64=base64.b64encode(raw).decode("ascii"),
        reason=clip(reason, MAX_REASON_CHARS),
        error_type=error_type,
        topic=meta.topic,
        partition=meta.partition,
        offset=meta.offset,
        original_size_bytes=len(raw),
        original_sha256=digest,
        original_record=record,
    )
    message = _dead(topic, key, source, payload)
    if size_of(message) <= max_bytes:
        return message
    update = {"original_base64": "", "original_omitted": True}
    return _dead(topic, key, source, payload.model_copy(update=update))


def _dead(topic: str, key: bytes | None, source: str, payload: DeadLetter) -> Outgoing:
    envelope = Envelope[DeadLetter](type="document.deadletter", source=source, payload=payload)
    return Outgoing(topic=topic, key=key, value=envelope.model_dump_json().encode())


def _encode(topic: str, key: str, envelope: Envelope[Any]) -> Outgoing:
    return Outgoing(topic=topic, key=key.encode(), value=envelope.model_dump_json().encode())


def _omitted(payload: BaseModel) -> list[Omission]:
    return list(getattr(payload, "omitted", []))


def _omission(part: Part, action: str, value: Any) -> Omission:
    size = len(json.dumps(value, ensure_ascii=False).encode())
    return Omission.model_validate(
        {"path": part.path, "action": action, "size_bytes": size, "record": part.record}
    )


def _with(
    topic: str, key: str, envelope: Envelope[Any], data: dict[str, Any], omitted: list[Omission]
) -> Outgoing | None:
    """The envelope with this payload data, or None if the cut data is not valid."""
    payload_type = type(envelope.payload)
    try:
        payload = payload_type.model_validate({**data, "omitted": omitted})
    except ValidationError:
        return None
    return _encode(topic, key, envelope.model_copy(update={"payload": payload}))


def _shorten(value: Any, cap: int) -> Any:
    """Every string over `cap` characters clipped, every list over cap // 16 items cut."""
    if isinstance(value, str):
        return clip(value, cap)
    if isinstance(value, list):
        return [_shorten(v, cap) for v in value[: max(4, cap // 16)]]
    if isinstance(value, dict):
        return {k: _shorten(v, cap) for k, v in value.items()}
    return value
