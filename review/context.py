"""What the review handlers work with: sessions, the publisher, the clock and policies.

`create_app` builds one `ReviewContext` per app (review/app.py) and the routes reach it
through review/deps.py; a test that drives handlers directly builds its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from review.pdf_pages import PageRenderer
from review.publish import Publisher
from review.scopes import ScopePolicy
from review.second import DoubleReviewPolicy
from review.tasks import LowConfidence


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReviewContext:
    sessions: async_sessionmaker[AsyncSession]
    publisher: Publisher
    topic: str
    """Where answers go: the prefixed `review.completed` topic."""
    low_confidence: LowConfidence
    """Fields below this confidence are flagged on the task page."""
    lease_s: float = 900.0
    clock: Callable[[], datetime] = utcnow
    """Read once per request at the edge (review/deps.py); commands carry the reading."""
    policy: DoubleReviewPolicy = field(default_factory=DoubleReviewPolicy)
    scopes: ScopePolicy = field(default_factory=ScopePolicy)
    """Who sees which tasks (review/scopes.py); reviewers only their scopes by default."""
    # SQLite allows one writer; in-process serialisation turns its "database is locked"
    # under concurrent requests into a short wait. PostgreSQL needs none.
    write_lock: asyncio.Lock | None = field(default=None)
    pages: PageRenderer = field(default_factory=PageRenderer)
    """Renders PDF pages with the app's limits, a few at a time (review/pdf_pages.py)."""

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        if self.write_lock is None:
            yield
        else:
            async with self.write_lock:
                yield

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        if write:
            async with self.writing(), self.sessions() as s:
                yield s
        else:
            async with self.sessions() as s:
                yield s
