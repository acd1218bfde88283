"""Readings for health and metrics: is the broker or database there, what waits in the
outbox and the review queue. Each is one cheap query or one broker round trip, bounded
by a timeout, so a scrape or a readiness probe never hangs on a dead dependency.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaClient
from sqlalchemy import case, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from infra.db.tables import OutboxRow, ReviewTaskRow

__all__ = ["QueueStats", "broker_problem", "database_problem", "outbox_backlog", "review_queue"]


async def broker_problem(bootstrap: str, *, timeout_s: float = 3.0) -> str | None:
    """None when the broker answers a metadata request, else why not."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        async with asyncio.timeout(timeout_s):
            await client.bootstrap()
    except Exception as exc:  # any failure is the answer, not an error of ours
        return f"broker {bootstrap} unreachable: {type(exc).__name__}: {exc}"[:300]
    finally:
        await client.close()
    return None


async def database_problem(engine: AsyncEngine, *, timeout_s: float = 3.0) -> str | None:
    """None when the database answers `SELECT 1`, else why not (never the URL: it may hold a password)."""
    try:
        async with asyncio.timeout(timeout_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"database unreachable: {type(exc).__name__}"
    return None


async def outbox_backlog(engine: AsyncEngine) -> int:
    """Outbox rows neither published nor failed for good: what a relay still owes the broker."""
    query = (
        select(func.count())
        .select_from(OutboxRow)
        .where(col(OutboxRow.emitted_at).is_(None), col(OutboxRow.failed_at).is_(None))
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


@dataclass(frozen=True)
class QueueStats:
    kind: str
    open: int
    oldest_age_s: float
    overdue: int
    """Open tasks past their due time (due = created + the SLA for their priority)."""


async def review_queue(engine: AsyncEngine, *, now: datetime | None = None) -> list[QueueStats]:
    """Open review tasks per document kind: how many, how old the oldest, how many overdue."""
    now = now or datetime.now(UTC)
    overdue = func.sum(case((col(ReviewTaskRow.due_at) < now, 1), else_=0))
    query = (
        select(col(ReviewTaskRow.kind), func.count(), func.min(col(ReviewTaskRow.created_at)), overdue)
        .where(col(ReviewTaskRow.status) == "open")
        .group_by(ReviewTaskRow.kind)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        QueueStats(kind=kind, open=int(n), oldest_age_s=_age(oldest, now), overdue=int(late or 0))
        for kind, n, oldest, late in rows
    ]


def _age(oldest: datetime | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # stored naive in UTC on SQLite
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())
