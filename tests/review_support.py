"""Helpers for review tests: seeded tasks, a recording publisher, logged-in clients."""

from __future__ import annotations

import functools
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import Session

from infra.db.engine import make_async_engine, make_engine, migrate
from infra.db.tables import DocumentRow, ExtractionRow, ReviewTaskRow, ReviewUserRow, RuleResultRow, TriageRow
from infra.kafka import make_consumer
from infra.settings import Settings
from review.app import create_app
from review.publish import Publisher

PASSWORD = "correct horse battery"


class RecordingPublisher(Publisher):
    """Keeps what would go to Kafka; `fail` makes the next publish raise."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, *, topic: str, key: bytes, value: bytes) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((topic, key, value))


def seed_tasks(
    url: str,
    schema: str | None,
    *,
    n: int,
    text: str = "INVOICE\nACME Ltd\nTotal 12.50",
    reason: str = "low_confidence",
    kind: str = "invoice",
    now: datetime | None = None,
) -> list[str]:
    """n documents in review with extraction/triage/rules results; returns task ids."""
    now = now or datetime.now(UTC)
    migrate(url, schema=schema)
    engine = make_engine(url, schema=schema)
    ids = []
    with Session(engine) as s:
        for i in range(n):
            doc_id = f"doc-{uuid.uuid4().hex[:10]}"
            task_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"review:{doc_id}"))
            s.add(
                DocumentRow(
                    document_id=doc_id,
                    event_id=str(uuid.uuid4()),
                    kind=kind,
                    content_hash="h" + doc_id,
                    text=text,
                    source="test",
                    status="review",
                    received_at=now - timedelta(hours=i),
                )
            )
            s.add(
                ExtractionRow(
                    document_id=doc_id,
                    model_version="extractor-test",
                    result={
                        "kind": kind,
                        "model_version": "extractor-test",
                        "fields": {
                            "vendor_name": {"value": "ACME Ltd", "confidence": 0.97},
                            "total": {"value": "12.50", "confidence": 0.41},
                        },
                    },
                )
            )
            s.add(
                TriageRow(
                    document_id=doc_id,
                    model_version="triage-test",
                    predicted_kind=kind,
                    risk=0.3,
                    result={"model_version": "triage-test", "predicted_kind": kind, "risk": 0.3},
                )
            )
            s.add(
                RuleResultRow(
                    document_id=doc_id,
                    rules_version="rules-test",
                    outcome="review",
                    reasons=[{"code": reason, "message": "total is uncertain", "severity": "review"}],
                    trace={"graph": {"output": {"outcome": "review"}}},
                )
            )
            s.add(
                ReviewTaskRow(
                    task_id=task_id,
                    document_id=doc_id,
                    kind=kind,
                    priority=50 + (i % 5),
                    due_at=now + timedelta(hours=24 - i),
                    primary_reason=reason,
                    reasons=[{"code": reason, "message": "total is uncertain", "severity": "review"}],
                    created_at=now - timedelta(hours=i),
                )
            )
            ids.append(task_id)
        s.commit()
    engine.dispose()
    return ids


@functools.cache
def _password_hash() -> str:
    # argon2 is slow on purpose; hash the shared test password once per session.
    return PasswordHasher().hash(PASSWORD)


async def add_users(s: AsyncSession, users: dict[str, str]) -> None:
    for name, role in users.items():
        s.add(ReviewUserRow(username=name, password_hash=_password_hash(), role=role))
    await s.commit()


def make_settings(
    prefix: str = "rv",
    *,
    second_share: float = 0.0,
    second_amount: float = 5000.0,
    reviewers_see_all: bool = True,
) -> Settings:
    """Test settings; no task is sampled for a second review unless a test asks, so
    tests of single review do not depend on how their random task ids hash. Reviewers
    see every task unless a test asks for scopes (the shipped default is scoped:
    tests/integration/test_review_scopes.py)."""
    s = Settings()
    s.review.reviewers_see_all = reviewers_see_all
    s.review.secret_key = SecretStr(secrets.token_urlsafe(48))
    s.kafka.topic_prefix = prefix
    s.review.second_review_share = second_share
    s.review.second_review_amount = second_amount
    return s


@asynccontextmanager
async def review_app(
    url: str,
    schema: str | None,
    *,
    publisher: Publisher | None = None,
    lease_s: float = 900.0,
    users: dict[str, str] | None = None,
    prefix: str = "rv",
    settings: Settings | None = None,
) -> AsyncIterator[tuple[FastAPI, AsyncEngine]]:
    migrate(url, schema=schema)
    engine = make_async_engine(url, schema=schema)
    try:
        from sqlalchemy.ext.asyncio import async_sessionmaker

        async with async_sessionmaker(engine)() as s:
            await add_users(s, users or {"ana": "reviewer", "lee": "lead", "root": "admin"})
        app = create_app(
            settings=settings or make_settings(prefix),
            engine=engine,
            publisher=publisher or RecordingPublisher(),
            lease_s=lease_s,
        )
        async with app.router.lifespan_context(app):
            yield app, engine
    finally:
        await engine.dispose()


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


async def login(c: httpx.AsyncClient, username: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = await c.get("/login")
    r = await c.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 303, r.text
    return csrf_of((await c.get("/queue")).text)


def payloads(pub: RecordingPublisher) -> list[dict[str, Any]]:
    import json

    return [json.loads(v) for _, _, v in pub.sent]


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app on a real 127.0.0.1 port in a thread; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def find_message(
    *, bootstrap: str, topic: str, timeout_s: float, match: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first message on `topic` (from the start) whose decoded value matches."""
    consumer = make_consumer(topic, bootstrap=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for m in messages:
                    value = json.loads(m.value)
                    if match(value):
                        return {"key": m.key, "value": value}
        raise AssertionError(f"no matching message on {topic} within {timeout_s}s")
    finally:
        await consumer.stop()
