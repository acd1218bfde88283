"""The dead-letter page in a real browser: a lead filters the list, reads a payload that
tries to be markup (shown as text), fixes it in the page and retries it, is told why a
still-broken fix is refused, and discards another with a reason; a reviewer is refused.

Debian's chromium through Python playwright against a real uvicorn on 127.0.0.1 and a
SQLite database; a screenshot goes to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.db.engine import make_async_engine, migrate
from infra.db.tables import DeadLetterRow
from review.app import create_app
from tests.review_support import PASSWORD, RecordingPublisher, add_users, csrf_of, make_settings, serve

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.e2e
HOSTILE = "<img src=x onerror=\"document.title='owned'\">"


def _event(doc_id: str, kind: str) -> bytes:
    payload = {"document_id": doc_id, "kind": kind, "text": f"INVOICE {HOSTILE}\nTotal 10.00"}
    return json.dumps({"event_id": f"ev-{doc_id}", "type": "document.received", "payload": payload}).encode()


def _seed(url: str) -> None:
    migrate(url)

    async def seed() -> None:
        engine = make_async_engine(url)
        async with async_sessionmaker(engine)() as s:
            await add_users(s, {"ana": "reviewer", "lee": "lead"})
            for offset, (doc, error) in enumerate(
                [("d-fix", "UndecodableEvent"), ("d-drop", "EmptyDocument")]
            ):
                s.add(
                    DeadLetterRow(
                        topic="rv.documents.received",
                        partition=0,
                        offset=offset,
                        content_hash=f"h{offset}",
                        reason=f"invalid document.received event: payload.kind {HOSTILE}",
                        error_type=error,
                        original=_event(doc, "reciept"),
                    )
                )
            await s.commit()
        await engine.dispose()

    asyncio.run(seed())


def _login(page: object, base: str, username: str) -> None:
    page.goto(base + "/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url("**/queue")  # type: ignore[attr-defined]


def test_lead_fixes_and_retries_and_discards_reviewer_is_refused(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("AUTOCLERK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{CHROMIUM} is required here (AUTOCLERK_REQUIRE_CHROMIUM=1)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    url = f"sqlite:///{tmp_path / 'review.db'}"
    _seed(url)
    pub = RecordingPublisher()
    app = create_app(settings=make_settings(), engine=make_async_engine(url), publisher=pub)
    with serve(app) as base, httpx.Client(base_url=base) as ana:
        # the reviewer, without a browser: the page and its forms answer 403
        data = {"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(ana.get("/login").text)}
        assert ana.post("/login", data=data).status_code == 303
        csrf = csrf_of(ana.get("/queue").text)
        assert "/deadletters" not in ana.get("/queue").text
        assert ana.get("/deadletters").status_code == 403
        assert ana.get("/deadletters/1").status_code == 403
        assert ana.post("/deadletters/1/retry", data={"csrf_token": csrf}).status_code == 403
        assert ana.post("/deadletters/2/discard", data={"csrf_token": csrf, "reason": "x"}).status_code == 403
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            _login(page, base, "lee")
            page.click("a[href='/deadletters']")
            expect(page.locator("#dead-letters tbody tr")).to_have_count(2)
            page.fill("input[name=error_type]", "UndecodableEvent")
            page.click("#dl-filter button[type=submit]")
            expect(page.locator("#dead-letters tbody tr")).to_have_count(1)
            page.click("#dead-letters tbody tr a")
            expect(page.locator("#dl-payload")).to_contain_text("<img src=x onerror=")  # text, not an element
            assert page.locator("main img").count() == 0 and page.title() != "owned"
            expect(page.locator("#dl-reason")).to_contain_text(HOSTILE)
            edit = page.locator("#dl-edit")
            # a fix that is still wrong: refused with the worker's reason, nothing sent
            edit.fill(edit.input_value().replace('"reciept"', '"recipe"'))
            page.check("#dl-edited")
            page.click("#dl-retry-button")
            expect(page.locator("main")).to_contain_text("UndecodableEvent")
            assert pub.sent == []
            page.goto(base + "/deadletters/1")  # d-fix, afresh (going back would restore the form)
            edit = page.locator("#dl-edit")
            edit.fill(edit.input_value().replace('"reciept"', '"invoice"'))
            page.check("#dl-edited")
            page.click("#dl-retry-button")
            expect(page.locator("p.ok")).to_contain_text("retry published")
            expect(page.locator("#dl-status")).to_have_text("retried")
            expect(page.locator("#dl-actions")).to_contain_text("(edited)")
            page.screenshot(path=str(ARTIFACTS / "deadletter-retried.png"), full_page=True)
            page.goto(base + "/deadletters?status=open")
            page.click("#dead-letters tbody tr a")
            page.fill("#dl-discard-reason", "test data from the ERP sandbox")
            page.click("#dl-discard-button")
            expect(page.locator("p.ok")).to_contain_text("discarded")
            page.goto(base + "/deadletters?status=discarded")
            expect(page.locator("#dead-letters tbody tr")).to_have_count(1)
            browser.close()
    # the refused fix answered 422 on purpose (the browser logs every 4xx); nothing else
    assert [e for e in errors if "status of 422" not in e] == [], errors
    assert len(errors) == 1
    [(topic, key, value)] = pub.sent
    assert topic == "rv.documents.received" and key == b"d-fix"
    assert json.loads(value)["payload"]["kind"] == "invoice"
