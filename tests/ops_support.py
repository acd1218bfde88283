"""Helpers for the dead-letter and ingest tests: a topic prefix per test on the shared
embedded broker, the review app on a real Kafka publisher, and reading a topic back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from infra.kafka import ensure_topics, make_consumer
from review.auth import create_token
from review.publish import KafkaPublisher
from schemas.messages import Topics
from tests.review_support import make_settings, review_app

USERS = {"ana": "reviewer", "lee": "lead", "root": "admin", "feed": "reviewer"}


async def fresh_topics(bootstrap: str) -> Topics:
    topics = Topics.with_prefix(f"o{uuid.uuid4().hex[:10]}")
    # One partition: "nothing else was published" is then read off one ordered log.
    await ensure_topics(bootstrap=bootstrap, names=topics.all(), partitions=1)
    return topics


@asynccontextmanager
async def ops_app(url: str, schema: str | None, *, bootstrap: str, topics: Topics) -> AsyncIterator[Any]:
    prefix = topics.received.removesuffix(".documents.received")
    async with review_app(
        url,
        schema,
        publisher=KafkaPublisher(bootstrap=bootstrap),
        users=USERS,
        settings=make_settings(prefix),
    ) as (app, engine):
        yield app, engine


async def tokens(engine: AsyncEngine) -> dict[str, str]:
    """Bearer tokens: `ingest` (scope ingest), `reviewer`, `lead`, `admin` (scope review)."""
    async with async_sessionmaker(engine)() as s:
        return {
            "ingest": await create_token(s, username="feed", name="upstream", scope="ingest"),
            "reviewer": await create_token(s, username="ana", name="t"),
            "lead": await create_token(s, username="lee", name="t"),
            "admin": await create_token(s, username="root", name="t"),
        }


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


async def read_topic(
    bootstrap: str, topic: str, *, count: int, timeout_s: float = 15.0, extra_s: float = 0.0
) -> list[Any]:
    """The records of `topic` from the start: waits up to `timeout_s` for `count`, then
    reads `extra_s` longer so that a test can see anything published beyond them."""
    consumer = make_consumer(topic, bootstrap=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                got.extend(records)
            if len(got) >= count and deadline > time.monotonic() + extra_s:
                deadline = time.monotonic() + extra_s
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return sorted(got, key=lambda r: r.offset)
