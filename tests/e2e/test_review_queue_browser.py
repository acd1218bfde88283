"""The queue tried as a new user would, in headless Chromium (issue 11, items 8, 9, 12):
filter, sort and search without errors (the table never turns into JSON), look up a
document's status, read a task's rules trace, and reject saying what was wrong.

A real uvicorn on 127.0.0.1 and a SQLite file; answers go to a recording publisher.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.db.engine import make_async_engine, migrate
from review.app import create_app
from tests.e2e.test_review_browser import ARGS, ARTIFACTS, chromium  # noqa: F401  (fixture)
from tests.integration.test_review_queue import _seed
from tests.review_support import PASSWORD, RecordingPublisher, add_users, make_settings, serve

pytestmark = pytest.mark.e2e


def _app(url: str, publisher: RecordingPublisher) -> Any:
    migrate(url)
    engine = make_async_engine(url)

    async def users() -> None:
        async with async_sessionmaker(engine)() as s:
            await add_users(s, {"nia": "reviewer"})

    asyncio.run(users())
    return create_app(settings=make_settings("rvq"), engine=engine, publisher=publisher)


def test_a_new_user_filters_sorts_searches_and_rejects(chromium: Path, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    docs = _seed(url, None)
    publisher = RecordingPublisher()
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(_app(url, publisher)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        failed: list[str] = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(base + "/login")
        page.fill("input[name=username]", "nia")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/queue")
        rows = page.locator("#rows tr[data-document]")
        expect(rows).to_have_count(6)

        page.select_option("select[name=kind]", "claim")  # the change that used to answer 422
        expect(rows).to_have_count(2)
        expect(page.locator("#matching")).to_have_text("2")
        assert "kind=claim" in page.url and "reason=" not in page.url  # blanks are not sent
        page.select_option("select[name=kind]", "")
        expect(rows).to_have_count(6)

        page.select_option("#sort", "amount")
        expect(rows.first.locator("td").nth(3)).to_have_text("120.00")
        page.fill("#search", "acme")  # two invoices, and the two claims seeded as ACME Ltd's
        expect(rows).to_have_count(4)
        page.fill("#search", docs[2][:9])
        expect(rows).to_have_count(1)
        page.fill("#search", "")
        expect(rows).to_have_count(6)
        page.fill("input[name=min_priority]", "")  # emptied by hand: still no filter
        page.press("input[name=min_priority]", "Enter")
        expect(rows).to_have_count(6)
        assert not re.search(r'\{\s*"detail"', page.inner_text("#queue-results"))
        page.screenshot(path=str(ARTIFACTS / "queue-filters.png"), full_page=True)

        page.fill("#lookup", docs[0])
        page.press("#lookup", "Enter")
        page.wait_for_url(f"**/documents/{docs[0]}")
        expect(page.locator("#state")).to_have_attribute("data-state", "in_review")

        page.goto(base + "/queue")
        page.locator("#rows a").first.click()
        page.wait_for_url("**/tasks/*")
        page.click("#claim")
        page.wait_for_url("**/tasks/*")
        page.locator("#rule-trace summary").click()
        expect(page.locator("#rule-trace ol.trace")).to_be_visible()
        page.check("#reject-fields")
        page.fill("#reason", "total unreadable")
        page.click("#reject")
        expect(page.locator("#submitted")).to_contain_text("data wrong", timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "queue-reject.png"), full_page=True)
        browser.close()
    assert errors == [], errors
    assert failed == [], failed
    [(_, _, raw)] = publisher.sent
    assert b'"reject_kind":"fields"' in raw
