"""Dead letters in the configured database, for `autoclerk deadletter`: the operator
acts as an admin (`autoclerk.accounts.OPERATOR`) through review/deadletters.py, on a
short-lived engine and, for retries, a producer on the configured broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoclerk.accounts import OPERATOR
from infra.db.engine import make_async_engine
from infra.deadletters import DeadLetterDetail, DeadLetterFilter, DeadLetterView
from infra.settings import Settings
from review import deadletters
from review.inbound import Inbound
from review.publish import KafkaPublisher

T = TypeVar("T")


async def _in_session(db_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_async_engine(db_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as s:
            return await work(s)
    finally:
        await engine.dispose()


async def find(*, settings: Settings, where: DeadLetterFilter) -> list[DeadLetterView]:
    return await _in_session(settings.db.url, lambda s: deadletters.find(s, actor=OPERATOR, where=where))


async def show(*, settings: Settings, dead_letter_id: int) -> DeadLetterDetail:
    return await _in_session(
        settings.db.url, lambda s: deadletters.show(s, actor=OPERATOR, dead_letter_id=dead_letter_id)
    )


async def retry(
    *,
    settings: Settings,
    bootstrap: str,
    dead_letter_id: int,
    payload: bytes | None,
    force: bool,
    reason: str | None,
) -> deadletters.Retried:
    publisher = KafkaPublisher(bootstrap=bootstrap, client_id="autoclerk-deadletter")
    await publisher.start()
    try:
        return await _in_session(
            settings.db.url,
            lambda s: deadletters.retry(
                s,
                actor=OPERATOR,
                dead_letter_id=dead_letter_id,
                publisher=publisher,
                inbound=Inbound.from_settings(settings),
                now=datetime.now(UTC),
                payload=payload,
                force=force,
                reason=reason,
            ),
        )
    finally:
        await publisher.stop()


async def discard(*, settings: Settings, dead_letter_id: int, reason: str) -> None:
    await _in_session(
        settings.db.url,
        lambda s: deadletters.discard(
            s, actor=OPERATOR, dead_letter_id=dead_letter_id, reason=reason, now=datetime.now(UTC)
        ),
    )
