"""A reviewer in a real browser: log in, take the next task, correct a field with the
keyboard only, approve, and find `review.completed` on the broker's topic.

Runs Debian's chromium through Python playwright against a real uvicorn on 127.0.0.1,
the embedded broker and a SQLite database. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from infra.broker import EmbeddedBroker
from infra.db.engine import make_async_engine
from infra.kafka import ensure_topics, make_consumer
from review.app import create_app
from review.publish import KafkaPublisher
from schemas.messages import Topics
from tests.review_support import PASSWORD, add_users, make_settings, seed_tasks

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("AUTOCLERK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"chromium is required here (AUTOCLERK_REQUIRE_CHROMIUM=1): {reason}")
        pytest.skip(reason)
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Broker + topics + seeded database + the review app on a real port."""
    prefix = f"rvb-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    url = f"sqlite:///{tmp_path / 'review.db'}"
    [task_id] = seed_tasks(url, None, n=1)
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=1))
        engine = make_async_engine(url)

        async def users() -> None:
            from sqlalchemy.ext.asyncio import async_sessionmaker

            async with async_sessionmaker(engine)() as s:
                await add_users(s, {"ana": "reviewer"})
            await engine.dispose()

        asyncio.run(users())
        app = create_app(
            settings=make_settings(prefix),
            engine=engine,
            publisher=KafkaPublisher(bootstrap=broker.bootstrap),
        )
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield {
                "base": f"http://127.0.0.1:{port}",
                "task_id": task_id,
                "topics": topics,
                "bootstrap": broker.bootstrap,
            }
        finally:
            server.should_exit = True
            thread.join(timeout=10)


async def _first_message(*, bootstrap: str, topic: str, timeout_s: float) -> dict[str, Any]:
    consumer = make_consumer(topic, bootstrap=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=int(timeout_s * 1000), max_records=1)
        for messages in batch.values():
            for m in messages:
                return {"key": m.key, "value": json.loads(m.value)}
        raise AssertionError(f"nothing on {topic} within {timeout_s}s")
    finally:
        await consumer.stop()


def test_reviewer_corrects_a_field_with_the_keyboard_and_approves(
    chromium: Path, served: dict[str, Any]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(served["base"] + "/login")
        page.keyboard.type("ana")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/queue")
        page.keyboard.press("n")
        page.wait_for_url(f"**/tasks/{served['task_id']}")
        rows = page.locator("tr.field")
        names = [rows.nth(i).get_attribute("data-field") for i in range(rows.count())]
        for _ in range(names.index("total") + 1):
            page.keyboard.press("j")
        expect(page.locator("tr.field.current")).to_have_attribute("data-field", "total")
        page.keyboard.press("e")
        page.keyboard.type("15.00")
        page.keyboard.press("Enter")
        expect(page.locator("#f-total")).to_have_class("changed")
        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        page.keyboard.press("?")
        page.keyboard.press("a")
        expect(page.locator("#submitted")).to_be_visible(timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "review-task.png"), full_page=True)
        page.goto(served["base"] + "/dashboard")
        expect(page.locator("svg.chart").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "review-dashboard.png"), full_page=True)
        browser.close()
    assert errors == [], errors  # no CSP violations or script errors in the console
    event = asyncio.run(
        _first_message(bootstrap=served["bootstrap"], topic=served["topics"].review_completed, timeout_s=20)
    )
    payload = event["value"]["payload"]
    assert event["value"]["type"] == "review.completed"
    assert payload["task_id"] == served["task_id"] and payload["outcome"] == "approve"
    assert payload["corrections"] == [
        {"field": "total", "old_value": "12.50", "new_value": "15.00", "old_confidence": 0.41}
    ]
    assert event["key"] == payload["document_id"].encode()
