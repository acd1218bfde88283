"""Operations at a glance: queue depth and age, SLA breaches, reviewer throughput, the
straight-through rate (decisions made with no human) per day, and how often two
reviewers of the same task agree (review/agreement.py).

The queue's numbers (depth, leases, age, SLA) count only the tasks in the caller's
scopes (review/scopes.py); throughput, the straight-through rate and agreement are the
team's, counts without documents in them.

Charts are plain numbers here; the template draws them as inline SVG, so the page
needs no JavaScript and no build step.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, case, exists, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import DecisionRow, ReviewOpinionRow, ReviewSubmissionRow, ReviewTaskRow
from review.agreement import Agreement, agreement
from review.queue import _in_queue, queue_depth
from review.scopes import Visibility

T = ReviewTaskRow
AGE_BUCKETS_H: tuple[tuple[str, float, float | None], ...] = (
    ("< 1 h", 0, 1),
    ("1-4 h", 1, 4),
    ("4-24 h", 4, 24),
    ("1-3 d", 24, 72),
    ("> 3 d", 72, None),
)


class Bar(BaseModel):
    label: str
    value: float
    note: str = ""


class Dashboard(BaseModel):
    depth: int
    leased: int
    oldest_hours: float | None
    sla_breached: int
    age: list[Bar]
    throughput_24h: list[Bar]
    throughput_7d: list[Bar]
    straight_through: list[Bar]
    straight_through_overall: float | None
    agreement: Agreement


async def dashboard(
    s: AsyncSession, *, now: datetime, seen: Visibility, days: int = 14, agreement_days: int = 90
) -> Dashboard:
    depth = await queue_depth(s, now=now, seen=seen)
    mine = and_(_in_queue(), seen.tasks())
    oldest = (await s.execute(select(func.min(col(T.created_at))).where(mine))).scalar_one()
    breached = (
        await s.execute(select(func.count()).select_from(T).where(mine, col(T.due_at) < now))
    ).scalar_one()
    st, overall = await _straight_through(s, since=now - timedelta(days=days))
    return Dashboard(
        depth=depth.open,
        leased=depth.leased,
        oldest_hours=(now - oldest).total_seconds() / 3600 if oldest else None,
        sla_breached=int(breached),
        age=await _age(s, now=now, seen=seen),
        throughput_24h=await _throughput(s, since=now - timedelta(hours=24)),
        throughput_7d=await _throughput(s, since=now - timedelta(days=7)),
        straight_through=st,
        straight_through_overall=overall,
        agreement=await agreement(s, since=now - timedelta(days=agreement_days)),
    )


async def _age(s: AsyncSession, *, now: datetime, seen: Visibility) -> list[Bar]:
    # One pass over the queue: a SUM(CASE ...) per bucket instead of one query each.
    cols = []
    for _, lo, hi in AGE_BUCKETS_H:
        cond = col(T.created_at) <= now - timedelta(hours=lo)
        if hi is not None:
            cond = and_(cond, col(T.created_at) > now - timedelta(hours=hi))
        cols.append(func.sum(case((cond, 1), else_=0)))
    row = (await s.execute(select(*cols).where(_in_queue(), seen.tasks()))).one()
    return [
        Bar(label=label, value=float(v or 0)) for (label, _, _), v in zip(AGE_BUCKETS_H, row, strict=True)
    ]


async def _throughput(s: AsyncSession, *, since: datetime) -> list[Bar]:
    # Each person's answers: single reviews from submissions, and for double-reviewed
    # tasks each answer from review_opinions (their submission is named "a+b").
    sub, op = ReviewSubmissionRow, ReviewOpinionRow
    single: Any = select(col(sub.reviewer).label("who")).where(
        col(sub.created_at) >= since, ~exists().where(col(op.task_id) == col(sub.task_id))
    )
    answers: Any = select(col(op.reviewer).label("who")).where(col(op.created_at) >= since)
    work = union_all(single, answers).subquery()
    q = (
        select(work.c.who, func.count())
        .group_by(work.c.who)
        .order_by(func.count().desc(), work.c.who)
        .limit(20)
    )
    return [Bar(label=r, value=float(n)) for r, n in (await s.execute(q)).all()]


async def _straight_through(s: AsyncSession, *, since: datetime) -> tuple[list[Bar], float | None]:
    day = func.date(col(DecisionRow.created_at))
    auto = func.sum(case((col(DecisionRow.decided_by) == "auto", 1), else_=0))
    q = (
        select(day, auto, func.count())
        .where(col(DecisionRow.created_at) >= since)
        .group_by(day)
        .order_by(day)
    )
    bars, n_auto, n_all = [], 0, 0
    for d, a, n in (await s.execute(q)).all():
        bars.append(Bar(label=str(d), value=round(100.0 * float(a) / n, 1), note=f"{int(a)}/{int(n)}"))
        n_auto, n_all = n_auto + int(a), n_all + int(n)
    return bars, (100.0 * n_auto / n_all if n_all else None)
