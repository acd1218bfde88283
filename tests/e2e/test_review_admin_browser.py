"""The accounts page in a real browser: an admin sees a reviewer's live session and
token, revokes the session and disables the reviewer, with no console or CSP errors.

Debian's chromium through Python playwright against a real uvicorn on 127.0.0.1 and a
SQLite database; a screenshot goes to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.db.engine import make_async_engine, migrate
from review.app import create_app
from review.auth import create_token
from tests.review_support import PASSWORD, RecordingPublisher, add_users, csrf_of, make_settings, serve

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.e2e


def _app(url: str) -> object:
    migrate(url)

    async def seed() -> None:
        engine = make_async_engine(url)
        async with async_sessionmaker(engine)() as s:
            await add_users(s, {"ana": "reviewer", "root": "admin"})
            await create_token(s, username="ana", name="ci", expires_at=datetime.now(UTC) + timedelta(days=3))
        await engine.dispose()

    asyncio.run(seed())
    return create_app(settings=make_settings(), engine=make_async_engine(url), publisher=RecordingPublisher())


def test_admin_revokes_a_session_and_disables_a_user(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("AUTOCLERK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{CHROMIUM} is required here (AUTOCLERK_REQUIRE_CHROMIUM=1)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with serve(_app(f"sqlite:///{tmp_path / 'review.db'}")) as base, httpx.Client(base_url=base) as ana:
        data = {"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(ana.get("/login").text)}
        assert ana.post("/login", data=data).status_code == 303
        assert ana.get("/api/me").status_code == 200
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(base + "/login")
            page.fill("input[name=username]", "root")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/queue")
            page.click("a[href='/admin']")
            ana_row = page.locator("#sessions tr", has_text="ana")
            expect(ana_row).to_have_count(1)
            expect(page.locator("#tokens tr", has_text="ci")).to_contain_text("live")
            ana_row.get_by_role("button", name="Revoke").click()
            expect(page.locator("p.ok")).to_contain_text("session revoked")
            expect(page.locator("#sessions tr", has_text="ana")).to_have_count(0)
            assert ana.get("/api/me").status_code == 401
            page.locator("tr[data-user=ana]").get_by_role("button", name="Disable").click()
            expect(page.locator("tr[data-user=ana]")).to_contain_text("disabled")
            expect(page.locator("#tokens tr", has_text="ci")).to_contain_text("revoked")
            page.screenshot(path=str(ARTIFACTS / "admin-accounts.png"), full_page=True)
            browser.close()
    assert errors == [], errors
