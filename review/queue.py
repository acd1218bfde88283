"""The review queue: listing, leasing and handing tasks over.

A lease gives one reviewer a task for a bounded time. On PostgreSQL the next task
is picked with `FOR UPDATE SKIP LOCKED`, so concurrent reviewers never wait on or
take the same row; on SQLite (one writer at a time) a conditional UPDATE that only
succeeds while the task is free, checked by its rowcount, does the same job.
A task with a submission is out of the queue even while it is still 'open': the
worker has not consumed the `review.completed` yet. A task that needs two reviewers
comes back after its first answer, for anyone but the first reviewer, and after two
differing answers for leads only (review/second.py). Every query here keeps to what
the caller may see (`seen`, review/scopes.py): a task out of scope is not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import ExtractionRow, ReviewEventRow, ReviewSubmissionRow, ReviewTaskRow, ReviewUserRow
from review.auth import Principal
from review.errors import Invalid, NotLeased, TaskClosed
from review.queue_filter import QueueFilter as QueueFilter  # the queue's parameters, re-exported
from review.queue_filter import amount_text, conditions, ordering, vendor_text
from review.scopes import ScopePolicy, Visibility, sees_task, visible_task
from review.second import check_assignee, check_eligible, eligible, rounds_column, stage_of

T = ReviewTaskRow


class TaskSummary(BaseModel):
    task_id: str
    document_id: str
    kind: str
    priority: int
    due_at: datetime
    created_at: datetime
    primary_reason: str
    reasons: list[dict[str, Any]]
    assignee: str | None
    lease_expires_at: datetime | None
    stage: str = "first"
    vendor: str | None = None
    amount: str | None = None


class QueueCounts(BaseModel):
    """How many tasks the filter matches, and per kind, reason and stage how many would
    match with that one choice changed (the other filters kept)."""

    matching: int
    kinds: dict[str, int]
    reasons: dict[str, int]
    stages: dict[str, int]


def _unsubmitted() -> ColumnElement[bool]:
    return ~exists().where(col(ReviewSubmissionRow.task_id) == col(T.task_id))


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(col(T.assignee).is_(None), col(T.lease_expires_at).is_(None), col(T.lease_expires_at) < now)


def _most_urgent_first(now: datetime) -> list[Any]:
    """Tasks past their SLA first, the longest overdue leading: once a promise is broken,
    age outranks priority (otherwise a steady stream of high-priority work would starve a
    low-priority task forever). Then priority, then the nearest due time."""
    overdue = col(T.due_at) <= now
    return [case((overdue, 0), else_=1), case((overdue, col(T.due_at)), else_=None),
            col(T.priority).desc(), col(T.due_at)]  # fmt: skip


def _in_queue() -> ColumnElement[bool]:
    return and_(col(T.status) == "open", _unsubmitted())


def _listed(q: Select[Any], *, f: QueueFilter, now: datetime, seen: Visibility) -> Select[Any]:
    """The queue under a filter, within the caller's scopes: the one place every listing
    and count starts from."""
    q = q.outerjoin(ExtractionRow, col(ExtractionRow.document_id) == col(T.document_id))
    return q.where(_in_queue(), seen.tasks(), *conditions(f, now=now, free=_free(now)))


async def list_tasks(
    s: AsyncSession, *, f: QueueFilter, now: datetime, seen: Visibility
) -> list[TaskSummary]:
    q = _listed(select(T, rounds_column(), vendor_text(), amount_text()), f=f, now=now, seen=seen)
    dialect = s.get_bind().dialect.name
    q = q.order_by(*ordering(f, urgency=_most_urgent_first(now), dialect=dialect))
    # vendor and amount as printed in the extraction, not the row's scope keys (a
    # normalised vendor key and a float) that share their names
    return [
        TaskSummary.model_validate(
            {
                **r.model_dump(exclude={"vendor", "amount"}),
                "stage": stage_of(n),
                "vendor": vendor,
                "amount": amount,
            }
        )
        for r, n, vendor, amount in (await s.execute(q.limit(f.limit).offset(f.offset))).all()
    ]


async def _count(s: AsyncSession, *, f: QueueFilter, now: datetime, seen: Visibility) -> int:
    q = _listed(select(func.count()).select_from(T), f=f, now=now, seen=seen)
    return int((await s.execute(q)).scalar_one())


async def _count_by(
    s: AsyncSession, column: Any, *, f: QueueFilter, now: datetime, seen: Visibility
) -> dict[str, int]:
    q = _listed(select(column, func.count()).select_from(T), f=f, now=now, seen=seen).group_by(column)
    return {str(value): int(n) for value, n in (await s.execute(q)).all()}


async def queue_counts(s: AsyncSession, *, f: QueueFilter, now: datetime, seen: Visibility) -> QueueCounts:
    stages = {}
    for stage in ("first", "second", "reconcile"):
        stages[stage] = await _count(
            s, f=f.without("stage").model_copy(update={"stage": stage}), now=now, seen=seen
        )
    return QueueCounts(
        matching=await _count(s, f=f, now=now, seen=seen),
        kinds=await _count_by(s, col(T.kind), f=f.without("kind"), now=now, seen=seen),
        reasons=await _count_by(s, col(T.primary_reason), f=f.without("reason"), now=now, seen=seen),
        stages=stages,
    )


async def queue_facets(s: AsyncSession, *, seen: Visibility) -> dict[str, list[str]]:
    """Values for the filter menus: kinds and primary reasons present in the queue."""
    open_ = and_(col(T.status) == "open", seen.tasks())
    kinds = (await s.execute(select(col(T.kind)).where(open_).distinct())).scalars().all()
    reasons = (await s.execute(select(col(T.primary_reason)).where(open_).distinct())).scalars()
    return {"kinds": sorted(kinds), "reasons": sorted(reasons.all())}


def _event(task: str, document: str, actor: str, action: str, **detail: Any) -> ReviewEventRow:
    return ReviewEventRow(task_id=task, document_id=document, actor=actor, action=action, detail=detail)


async def _held(s: AsyncSession, *, reviewer: str, now: datetime, seen: Visibility) -> str | None:
    q = (
        select(col(T.task_id))
        .where(_in_queue(), col(T.assignee) == reviewer, col(T.lease_expires_at) >= now, seen.tasks())
        .limit(1)
    )
    return (await s.execute(q)).scalar_one_or_none()


async def next_task(
    s: AsyncSession, *, reviewer: str, now: datetime, lease_s: float, seen: Visibility, lead: bool = False
) -> str | None:
    """Lease the most urgent free task `reviewer` may take; a task they hold comes first."""
    async with s.begin():
        held = await _held(s, reviewer=reviewer, now=now, seen=seen)
        if held is not None:
            return held
        pick = select(col(T.task_id), col(T.document_id)).where(
            _in_queue(), _free(now), eligible(reviewer=reviewer, lead=lead), seen.tasks()
        )
        pick = pick.order_by(*_most_urgent_first(now))
        if s.get_bind().dialect.name == "postgresql":
            row = (await s.execute(pick.limit(1).with_for_update(skip_locked=True, of=T))).first()
            candidates = [row] if row else []
        else:
            candidates = list((await s.execute(pick.limit(8))).all())
        for task_id, document_id in candidates:
            if await _take(
                s, task_id=task_id, reviewer=reviewer, now=now, lease_s=lease_s, lead=lead, seen=seen
            ):
                s.add(_event(task_id, document_id, reviewer, "leased", lease_s=lease_s))
                return str(task_id)
    return None


async def _take(
    s: AsyncSession,
    *,
    task_id: str,
    reviewer: str,
    now: datetime,
    lease_s: float,
    lead: bool,
    seen: Visibility,
) -> bool:
    # The WHERE repeats the freedom test: on SQLite this is the whole lock.
    won = await s.execute(
        update(T)
        .where(
            col(T.task_id) == task_id,
            _in_queue(),
            or_(_free(now), col(T.assignee) == reviewer),
            eligible(reviewer=reviewer, lead=lead),
            seen.tasks(),
        )
        .values(assignee=reviewer, lease_expires_at=now + timedelta(seconds=lease_s))
    )
    return won.rowcount == 1  # type: ignore[attr-defined]


async def claim(
    s: AsyncSession,
    *,
    task_id: str,
    reviewer: str,
    now: datetime,
    lease_s: float,
    seen: Visibility,
    lead: bool = False,
) -> None:
    """Lease one named task (or renew your own lease on it)."""
    async with s.begin():
        task = await _task(s, task_id, seen)
        await check_eligible(s, task_id=task_id, username=reviewer, lead=lead)
        took = await _take(
            s, task_id=task_id, reviewer=reviewer, now=now, lease_s=lease_s, lead=lead, seen=seen
        )
        if not took:
            raise NotLeased(f"task {task_id} is leased by {task.assignee} or no longer in the queue")
        s.add(_event(task_id, task.document_id, reviewer, "leased", lease_s=lease_s))


async def _task(s: AsyncSession, task_id: str, seen: Visibility) -> ReviewTaskRow:
    task = await visible_task(s, task_id=task_id, seen=seen)
    if task.status != "open":
        raise TaskClosed(f"task {task_id} is already {task.status}")
    return task


async def lock_task(s: AsyncSession, *, task_id: str) -> None:
    """Hold the task row until this transaction ends (a no-op UPDATE: a row lock on
    PostgreSQL, the write lock on SQLite). The worker's LLM retry takes the same lock
    before it closes or re-routes an untouched task, so either this answer sees the
    task as the retry left it, or the retry sees this answer and changes nothing."""
    await s.execute(update(T).where(col(T.task_id) == task_id).values(status=col(T.status)))


def holds_lease(task: ReviewTaskRow, *, reviewer: str, now: datetime) -> bool:
    return task.assignee == reviewer and task.lease_expires_at is not None and task.lease_expires_at >= now


async def release(
    s: AsyncSession, *, task_id: str, actor: Principal, now: datetime, seen: Visibility
) -> None:
    async with s.begin():
        task = await _task(s, task_id, seen)
        if not holds_lease(task, reviewer=actor.username, now=now) and not actor.has("lead"):
            raise NotLeased(f"task {task_id} is not leased by you")
        await s.execute(
            update(T).where(col(T.task_id) == task_id).values(assignee=None, lease_expires_at=None)
        )
        s.add(_event(task_id, task.document_id, actor.username, "released", previous=task.assignee))


async def reassign(
    s: AsyncSession,
    *,
    task_id: str,
    actor: Principal,
    assignee: str,
    now: datetime,
    lease_s: float,
    scopes: ScopePolicy,
) -> None:
    actor.require("lead")
    async with s.begin():
        task = await _task(s, task_id, scopes.visibility(actor))
        user = await s.get(ReviewUserRow, assignee)
        if user is None or not user.active:
            raise Invalid(f"no active user {assignee!r}")
        if not await sees_task(s, task_id=task_id, seen=scopes.of(user)):
            raise Invalid(f"task {task_id} is outside {assignee}'s scopes")
        await check_assignee(s, task_id=task_id, user=user)
        until = now + timedelta(seconds=lease_s)
        await s.execute(
            update(T)
            .where(col(T.task_id) == task_id, _in_queue())
            .values(assignee=assignee, lease_expires_at=until)
        )
        s.add(
            _event(
                task_id, task.document_id, actor.username, "reassigned", previous=task.assignee, to=assignee
            )
        )


async def escalate(
    s: AsyncSession, *, task_id: str, actor: Principal, reason: str, now: datetime, seen: Visibility
) -> None:
    """Hand a task to the leads: top priority, lease dropped, reason on record."""
    if not reason.strip():
        raise Invalid("escalating needs a reason")
    async with s.begin():
        task = await _task(s, task_id, seen)
        if not holds_lease(task, reviewer=actor.username, now=now) and not actor.has("lead"):
            raise NotLeased(f"task {task_id} is not leased by you")
        await s.execute(
            update(T)
            .where(col(T.task_id) == task_id)
            .values(priority=100, assignee=None, lease_expires_at=None)
        )
        s.add(
            _event(
                task_id, task.document_id, actor.username, "escalated", reason=reason, priority=task.priority
            )
        )


@dataclass(frozen=True)
class QueueDepth:
    open: int
    leased: int


async def queue_depth(s: AsyncSession, *, now: datetime, seen: Visibility) -> QueueDepth:
    mine = and_(_in_queue(), seen.tasks())
    total = (await s.execute(select(func.count()).select_from(T).where(mine))).scalar_one()
    leased = (await s.execute(select(func.count()).select_from(T).where(mine, ~_free(now)))).scalar_one()
    return QueueDepth(open=int(total), leased=int(leased))
