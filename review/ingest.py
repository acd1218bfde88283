"""HTTP ingest for upstream systems that cannot speak Kafka: one document in, one
`document.received` event on the topic, answered once the broker acknowledged it.

The bytes published are exactly the bytes checked: the worker's own decoder and
document checks run first (review/inbound.py), so what it would dead-letter is refused
here with the same `error_type` and reason, and nothing is sent. An `Idempotency-Key`
(per token user) is stored with the body's SHA-256 and the answer: the same key with
the same body gets the same answer again without a second event; with another body it
is refused (422, as the IETF Idempotency-Key draft answers a reused key). A key whose
first request is still publishing answers 409; one left pending by a crash is taken
over after `STALE_AFTER` (the event id is the same, so the worker admits it once).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from infra.db.tables import IngestRequestRow
from review.auth import Principal
from review.context import ReviewContext
from review.errors import Conflict, Invalid, PublishFailed
from review.inbound import Inbound
from schemas.events import DocumentReceived, Envelope

STALE_AFTER = timedelta(seconds=60)
MAX_KEY_CHARS = 200
R = IngestRequestRow


class KeyReused(Invalid):
    """The Idempotency-Key was used before with another body."""


@dataclass(frozen=True)
class Accepted:
    event_id: str
    document_id: str
    topic: str
    partition: int | None
    offset: int | None
    replayed: bool = False

    def answer(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "document_id": self.document_id,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
        }


def wrap_payload(*, body: dict[str, Any], source: str) -> bytes:
    """A bare `document.received` payload in an envelope of its own (new event id)."""
    envelope = {"type": "document.received", "schema_version": 1, "source": source, "payload": body}
    return json.dumps(envelope, ensure_ascii=False).encode()


async def ingest(
    ctx: ReviewContext,
    *,
    inbound: Inbound,
    actor: Principal,
    raw: bytes,
    fingerprint: str,
    idempotency_key: str | None,
) -> Accepted:
    """`raw`: the envelope to publish; `fingerprint`: what makes two requests the same
    (the request as sent, not `raw`, which may carry a fresh event id and time)."""
    key = _checked_key(idempotency_key)
    env = inbound.received(raw)
    digest = fingerprint
    if key is not None:
        earlier = await _claim(
            ctx, actor=actor, key=key, digest=digest, env=env, topic=inbound.topics.received
        )
        if earlier is not None:
            return earlier
    try:
        sent = await ctx.publisher.publish(
            topic=inbound.topics.received, key=env.payload.document_id.encode(), value=raw
        )
    except Exception as exc:  # any broker failure: nothing was accepted, the caller may retry
        if key is not None:
            async with ctx.session(write=True) as s:
                await s.execute(
                    delete(R).where(col(R.username) == actor.username, col(R.idempotency_key) == key)
                )
                await s.commit()
        raise PublishFailed(f"the broker did not take the document: {exc}") from exc
    done = Accepted(
        event_id=env.event_id,
        document_id=env.payload.document_id,
        topic=inbound.topics.received,
        partition=sent.partition if sent else None,
        offset=sent.offset if sent else None,
    )
    if key is not None:
        async with ctx.session(write=True) as s:
            await s.execute(
                update(R)
                .where(col(R.username) == actor.username, col(R.idempotency_key) == key)
                .values(status="published", partition=done.partition, offset=done.offset)
            )
            await s.commit()
    return done


def fingerprint(*parts: bytes | str, items: Iterable[tuple[str, str]] = ()) -> str:
    """SHA-256 over the parts and the sorted items (headers that carry meaning)."""
    h = hashlib.sha256()
    for part in (*parts, *(f"{k}={v}" for k, v in sorted(items))):
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def _checked_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise Invalid(f"Idempotency-Key: 1-{MAX_KEY_CHARS} printable characters")
    return key


async def _claim(
    ctx: ReviewContext,
    *,
    actor: Principal,
    key: str,
    digest: str,
    env: Envelope[DocumentReceived],
    topic: str,
) -> Accepted | None:
    """None when this request owns the key now (publish); the earlier answer otherwise."""
    now = ctx.clock()
    async with ctx.session(write=True) as s:
        q = select(R).where(col(R.username) == actor.username, col(R.idempotency_key) == key)
        row = (await s.execute(q)).scalars().first()
        if row is None:
            s.add(
                R(
                    username=actor.username,
                    idempotency_key=key,
                    body_sha256=digest,
                    event_id=env.event_id,
                    document_id=env.payload.document_id,
                    topic=topic,
                    created_at=now,
                )
            )
            try:
                await s.commit()
            except IntegrityError as exc:  # a concurrent request with the same key won
                raise Conflict(f"Idempotency-Key {key!r} is in use by a request in progress") from exc
            return None
        if row.body_sha256 != digest:
            raise KeyReused(f"Idempotency-Key {key!r} was used with another body")
        if row.status == "published":
            return Accepted(
                event_id=row.event_id,
                document_id=row.document_id,
                topic=row.topic,
                partition=row.partition,
                offset=row.offset,
                replayed=True,
            )
        if now - _aware(row.created_at, now) < STALE_AFTER:
            raise Conflict(f"Idempotency-Key {key!r} is in use by a request in progress")
        row.created_at = now  # left pending by a crash: this request publishes it
        await s.commit()
        return None


def _aware(at: datetime, now: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=now.tzinfo)
