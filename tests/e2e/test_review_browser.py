"""A reviewer in a real browser: log in, take the next task, correct a field with the
keyboard only, approve, and find `review.completed` on the broker's topic; with the
real worker running, find the human decision on `documents.decided` too.

Runs Debian's chromium through Python playwright against a real uvicorn on 127.0.0.1,
the embedded broker and a SQLite database. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Session

from autoclerk.publish import publish_events
from autoclerk.samples import received_event
from infra.broker import EmbeddedBroker
from infra.db.engine import make_async_engine, make_engine, migrate
from infra.db.tables import ReviewTaskRow
from infra.kafka import ensure_topics
from review.app import create_app
from review.publish import KafkaPublisher
from schemas.messages import Topics
from tests.review_support import PASSWORD, add_users, find_message, make_settings, seed_tasks, serve
from tests.support import outcome_counts, small_corpus, spawn_worker, wait_until, worker_env

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("AUTOCLERK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"chromium is required here (AUTOCLERK_REQUIRE_CHROMIUM=1): {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def broker() -> Iterator[tuple[str, Topics]]:
    topics = Topics.with_prefix(f"rvb-{uuid.uuid4().hex[:8]}")
    with EmbeddedBroker() as b:
        asyncio.run(ensure_topics(bootstrap=b.bootstrap, names=topics.all(), partitions=2))
        yield b.bootstrap, topics


def _review_app(url: str, *, bootstrap: str, prefix: str) -> Any:
    migrate(url)
    engine = make_async_engine(url)

    async def users() -> None:
        async with async_sessionmaker(engine)() as s:
            await add_users(s, {"ana": "reviewer"})
        await engine.dispose()

    asyncio.run(users())
    return create_app(
        settings=make_settings(prefix), engine=engine, publisher=KafkaPublisher(bootstrap=bootstrap)
    )


def _review_in_browser(
    chromium: Path, base: str, *, fields: tuple[str, ...], new_value: str, shots: str
) -> tuple[str, str]:
    """Keyboard only from the login form to the approval; returns (task id, field edited)."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/login")
        page.keyboard.type("ana")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/queue")
        page.keyboard.press("n")
        page.wait_for_url("**/tasks/*")
        task_id = page.url.rsplit("/", 1)[1]
        rows = page.locator("tr.field")
        names = [rows.nth(i).get_attribute("data-field") for i in range(rows.count())]
        field = next(f for f in fields if f in names)
        for _ in range(names.index(field) + 1):
            page.keyboard.press("j")
        expect(page.locator("tr.field.current")).to_have_attribute("data-field", field)
        page.keyboard.press("e")
        page.keyboard.type(new_value)
        page.keyboard.press("Enter")
        expect(page.locator(f"#f-{field}")).to_have_class("changed")
        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        page.keyboard.press("?")
        page.keyboard.press("a")
        expect(page.locator("#submitted")).to_be_visible(timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / f"{shots}-task.png"), full_page=True)
        page.goto(base + "/dashboard")
        expect(page.locator("svg.chart").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / f"{shots}-dashboard.png"), full_page=True)
        browser.close()
    assert errors == [], errors  # no CSP violations or script errors in the console
    return task_id, field


def test_keyboard_only_correction_and_approve(
    chromium: Path, broker: tuple[str, Topics], tmp_path: Path
) -> None:
    bootstrap, topics = broker
    url = f"sqlite:///{tmp_path / 'review.db'}"
    [task_id] = seed_tasks(url, None, n=1)
    with serve(_review_app(url, bootstrap=bootstrap, prefix=topics.received.split(".")[0])) as base:
        leased, _ = _review_in_browser(chromium, base, fields=("total",), new_value="15.00", shots="review")
    assert leased == task_id
    event = asyncio.run(
        find_message(
            bootstrap=bootstrap,
            topic=topics.review_completed,
            timeout_s=20,
            match=lambda v: v["payload"]["task_id"] == task_id,
        )
    )
    payload = event["value"]["payload"]
    assert event["value"]["type"] == "review.completed" and payload["outcome"] == "approve"
    assert payload["corrections"] == [
        {"field": "total", "old_value": "12.50", "new_value": "15.00", "old_confidence": 0.41}
    ]
    assert event["key"] == payload["document_id"].encode()


def test_worker_turns_the_browser_review_into_a_human_decision(
    chromium: Path, broker: tuple[str, Topics], tmp_path: Path, trained_models: Path
) -> None:
    bootstrap, topics = broker
    prefix = topics.received.split(".")[0]
    url = f"sqlite:///{tmp_path / 'pipeline.db'}"
    log = tmp_path / "worker.log"
    _, test = small_corpus()
    migrate(url)  # the worker migrates too; this lets us poll before it has
    worker = spawn_worker(
        worker_env(bootstrap=bootstrap, prefix=prefix, db_url=url, models_dir=trained_models), log
    )
    try:
        asyncio.run(
            publish_events(
                bootstrap=bootstrap, topic=topics.received, events=[received_event(d) for d in test[:12]]
            )
        )
        engine = make_engine(url)

        # Every document of the batch reaches its outcome first, so tasks exist to lease.
        wait_until(
            lambda: sum(outcome_counts(url).values()) >= 12,
            timeout_s=240,
            what="all outcomes",
            proc=worker,
            log=log,
        )
        assert outcome_counts(url)["tasks"] >= 1, "the small models sent nothing to review"
        with serve(_review_app(url, bootstrap=bootstrap, prefix=prefix)) as base:
            task_id, field = _review_in_browser(
                chromium,
                base,
                fields=("total", "claimed_amount"),
                new_value="4321.09",  # an amount: corrections are checked by shape
                shots="pipeline",
            )
            with Session(engine) as s:
                task = s.get(ReviewTaskRow, task_id)
            assert task is not None
            decided = asyncio.run(
                find_message(
                    bootstrap=bootstrap,
                    topic=topics.decided,
                    timeout_s=120,
                    match=lambda v: v["payload"]["document_id"] == task.document_id,
                )
            )
        engine.dispose()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    payload = decided["value"]["payload"]
    assert (
        payload["decided_by"] == "human" and payload["reviewer"] == "ana" and payload["outcome"] == "approve"
    )
    assert payload["fields"][field] == "4321.09"
