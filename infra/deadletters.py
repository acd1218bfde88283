"""Dead letters in the database: filtered lists, one with its history, and the record
of what an operator did (retry, discard). The policy (who may, what is validated,
what needs `force`) is `review.deadletters`; this module only reads and writes rows.

A retry records where the re-published bytes landed (topic, partition, offset) and
their SHA-256; when the worker dead-letters that message again, `retried_from` finds
the action by that position and the new dead letter is linked to the old one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from infra.db.tables import DeadLetterActionRow, DeadLetterRow
from schemas.messages import MessageMeta

Status = Literal["open", "retried", "discarded"]
D = DeadLetterRow
A = DeadLetterActionRow


class DeadLetterFilter(BaseModel):
    """Every condition given must hold; `reason` matches a part of the reason, any case."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=200)
    error_type: str | None = Field(default=None, max_length=200)
    topic: str | None = Field(default=None, max_length=300)
    status: Status | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class DeadLetterView(BaseModel):
    id: int
    topic: str
    partition: int
    offset: int
    reason: str
    error_type: str
    status: str
    size_bytes: int
    created_at: datetime
    retry_of: int | None


class ActionView(BaseModel):
    action: str
    actor: str
    at: datetime
    reason: str | None
    edited: bool
    event_id: str | None
    topic: str | None
    partition: int | None
    offset: int | None
    status: str


class DeadLetterDetail(DeadLetterView):
    original: bytes = Field(exclude=True, description="never rendered as is: decode, then escape")
    content_hash: str
    actions: list[ActionView]
    retried_as: list[int] = Field(description="dead letters of retries of this one that failed again")


def _view(row: DeadLetterRow, size: int) -> DeadLetterView:
    assert row.id is not None
    return DeadLetterView(
        id=row.id,
        topic=row.topic,
        partition=row.partition,
        offset=row.offset,
        reason=row.reason,
        error_type=row.error_type,
        status=row.status,
        size_bytes=size,
        created_at=row.created_at,
        retry_of=row.retry_of,
    )


async def list_dead_letters(s: AsyncSession, *, where: DeadLetterFilter) -> list[DeadLetterView]:
    """Newest first, without the original bytes (only their size)."""
    q = select(D, func.length(col(D.original)))
    if where.reason:
        q = q.where(func.lower(col(D.reason)).contains(where.reason.lower(), autoescape=True))
    if where.error_type:
        q = q.where(col(D.error_type) == where.error_type)
    if where.topic:
        q = q.where(col(D.topic) == where.topic)
    if where.status:
        q = q.where(col(D.status) == where.status)
    if where.since:
        q = q.where(col(D.created_at) >= where.since)
    if where.until:
        q = q.where(col(D.created_at) < where.until)
    q = q.order_by(col(D.created_at).desc(), col(D.id).desc()).limit(where.limit)
    return [_view(row, int(size or 0)) for row, size in (await s.execute(q)).all()]


async def get_dead_letter(s: AsyncSession, *, dead_letter_id: int) -> DeadLetterDetail | None:
    row = await s.get(D, dead_letter_id)
    if row is None:
        return None
    actions = await s.execute(select(A).where(col(A.dead_letter_id) == dead_letter_id).order_by(col(A.id)))
    again = await s.execute(select(col(D.id)).where(col(D.retry_of) == dead_letter_id).order_by(col(D.id)))
    return DeadLetterDetail(
        **_view(row, len(row.original)).model_dump(),
        original=row.original,
        content_hash=row.content_hash,
        actions=[ActionView.model_validate(a, from_attributes=True) for a in actions.scalars()],
        retried_as=[int(i) for i in again.scalars() if i is not None],
    )


async def record_retry(s: AsyncSession, *, dead_letter_id: int, action: DeadLetterActionRow) -> None:
    """Store the retry and mark the dead letter retried, in the caller's transaction."""
    action.dead_letter_id, action.action, action.status = dead_letter_id, "retry", "published"
    s.add(action)
    await s.execute(update(D).where(col(D.id) == dead_letter_id).values(status="retried"))


async def record_discard(
    s: AsyncSession, *, dead_letter_id: int, actor: str, at: datetime, reason: str
) -> None:
    s.add(
        A(
            dead_letter_id=dead_letter_id,
            action="discard",
            actor=actor,
            at=at,
            reason=reason,
            status="discarded",
        )
    )
    await s.execute(update(D).where(col(D.id) == dead_letter_id).values(status="discarded"))


async def retried_from(s: AsyncSession, *, meta: MessageMeta, digest: str) -> int | None:
    """The dead letter whose retry put exactly these bytes at this position, if any."""
    q = select(col(A.dead_letter_id)).where(
        col(A.action) == "retry",
        col(A.topic) == meta.topic,
        col(A.partition) == meta.partition,
        col(A.offset) == meta.offset,
        col(A.content_hash) == digest,
    )
    found = (await s.execute(q.order_by(col(A.id).desc()).limit(1))).scalar()
    return int(found) if found is not None else None
