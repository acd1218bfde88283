"""Dead letters for leads and operators: list, show, retry, discard.

Only a lead or an admin may see or act on dead letters (their bytes are anyone's
documents, not a reviewer's queue); `autoclerk deadletter` acts as the operator
(admin). A retry re-publishes the original bytes to the topic they came from, or a
fixed payload that first passes the worker's own checks (review/inbound.py); it
records who, when, why and where the bytes landed, and marks the row retried. A row
already retried or discarded is retried again only with `force`. A discard needs a
reason and keeps the row. The rows are infra/deadletters.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db.tables import DeadLetterActionRow
from infra.deadletters import (
    DeadLetterDetail,
    DeadLetterFilter,
    DeadLetterView,
    get_dead_letter,
    list_dead_letters,
    record_discard,
    record_retry,
)
from review.auth import Principal
from review.errors import Conflict, Invalid, NotFound, PublishFailed, RefusedEvent
from review.inbound import Inbound
from review.publish import Publisher
from schemas.events import Envelope

MAX_SHOWN_CHARS = 200_000
MAX_REASON = 2000


@dataclass(frozen=True)
class Retried:
    dead_letter_id: int
    topic: str
    event_id: str | None
    partition: int | None
    offset: int | None
    edited: bool


async def find(s: AsyncSession, *, actor: Principal, where: DeadLetterFilter) -> list[DeadLetterView]:
    actor.require("lead")
    return await list_dead_letters(s, where=where)


async def show(s: AsyncSession, *, actor: Principal, dead_letter_id: int) -> DeadLetterDetail:
    actor.require("lead")
    found = await get_dead_letter(s, dead_letter_id=dead_letter_id)
    if found is None:
        raise NotFound(f"no dead letter {dead_letter_id}")
    return found


def decoded(original: bytes) -> str:
    """The original as text a person can read and edit: indented JSON when it is JSON,
    else the UTF-8 text (undecodable bytes replaced), else base64 of binary data.
    Callers render it escaped; it is never markup."""
    try:
        text = original.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(original[:MAX_SHOWN_CHARS]).decode("ascii")
    with suppress(ValueError, RecursionError):  # not JSON: the text itself is what was refused
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    if len(text) > MAX_SHOWN_CHARS:
        return f"{text[:MAX_SHOWN_CHARS]}\n…[{len(text)} characters in all]"
    return text


async def retry(
    s: AsyncSession,
    *,
    actor: Principal,
    dead_letter_id: int,
    publisher: Publisher,
    inbound: Inbound,
    now: datetime,
    payload: bytes | None = None,
    force: bool = False,
    reason: str | None = None,
) -> Retried:
    """Publish the original (or `payload`, validated first) to its topic and record it.

    The message is published before the record is written: a crash in between leaves a
    retry without its record (the row stays open), never a record without a message.
    """
    row = await show(s, actor=actor, dead_letter_id=dead_letter_id)
    if row.status != "open" and not force:
        raise Conflict(f"dead letter {dead_letter_id} is already {row.status}; force to retry it again")
    raw = row.original if payload is None else payload
    envelope = inbound.check(raw, topic=row.topic) if payload is not None else _maybe(inbound, raw, row.topic)
    event_id = envelope.event_id if envelope is not None else None
    key = _key(envelope, dead_letter_id)
    try:
        sent = await publisher.publish(topic=row.topic, key=key, value=raw)
    except Exception as exc:  # the broker's failures are many; all are retryable here
        raise PublishFailed(f"the broker did not take the retry: {exc}") from exc
    action = DeadLetterActionRow(
        dead_letter_id=dead_letter_id,
        action="retry",
        actor=actor.username,
        at=now,
        reason=(reason or "")[:MAX_REASON] or None,
        edited=payload is not None,
        event_id=event_id,
        topic=row.topic,
        partition=sent.partition if sent else None,
        offset=sent.offset if sent else None,
        content_hash=hashlib.sha256(raw).hexdigest(),
        status="published",
    )
    await record_retry(s, dead_letter_id=dead_letter_id, action=action)
    await s.commit()
    return Retried(
        dead_letter_id=dead_letter_id,
        topic=row.topic,
        event_id=event_id,
        partition=action.partition,
        offset=action.offset,
        edited=payload is not None,
    )


async def discard(
    s: AsyncSession, *, actor: Principal, dead_letter_id: int, reason: str, now: datetime
) -> None:
    row = await show(s, actor=actor, dead_letter_id=dead_letter_id)
    if not reason.strip():
        raise Invalid("a discard needs a reason")
    if row.status == "discarded":
        raise Conflict(f"dead letter {dead_letter_id} is already discarded")
    await record_discard(
        s, dead_letter_id=dead_letter_id, actor=actor.username, at=now, reason=reason[:MAX_REASON]
    )
    await s.commit()


def _maybe(inbound: Inbound, raw: bytes, topic: str) -> Envelope[BaseModel] | None:
    """The original's envelope when it still decodes (for its event id and key); an
    original that does not is re-sent as it is, and fails again into a linked dead letter."""
    try:
        return inbound.check(raw, topic=topic)
    except RefusedEvent:  # refused again: the worker records that, linked to this row
        return None


def _key(envelope: Envelope[BaseModel] | None, dead_letter_id: int) -> bytes:
    payload = getattr(envelope, "payload", None)
    document_id = getattr(payload, "document_id", None)
    return str(document_id).encode() if document_id else f"deadletter:{dead_letter_id}".encode()
