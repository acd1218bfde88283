"""/api/docs in a real browser: Swagger UI from the app's own files renders every
operation under the strict CSP, with no request leaving 127.0.0.1 and nothing in the
console (a CSP violation is logged there as an error). Issue 11, item 7."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from review.app import create_app
from tests.review_support import RecordingPublisher, make_settings, serve

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("AUTOCLERK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"chromium is required here (AUTOCLERK_REQUIRE_CHROMIUM=1): {reason}")
        pytest.skip(reason)
    return CHROMIUM


def test_swagger_ui_renders_from_local_files_under_the_csp(chromium: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from infra.db.engine import make_async_engine, migrate

    url = f"sqlite:///{tmp_path / 'review.db'}"
    migrate(url)
    app = create_app(
        settings=make_settings("docs"), engine=make_async_engine(url), publisher=RecordingPublisher()
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        hosts: set[str] = set()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: hosts.add(r.url.split("/")[2]) if r.url.startswith("http") else None)
        page.goto(base + "/api/docs")
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
        operations = page.locator(".swagger-ui .opblock").count()
        page.locator(".opblock-summary", has_text="/api/tasks/{task_id}/complete").first.click()
        expect(page.locator(".responses-table").first).to_contain_text("409")
        page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
        browser.close()
    assert operations >= 10
    assert hosts == {base.split("/")[2]}, hosts
    assert errors == [], errors


def test_the_queue_note_shows_fixed_text_for_a_code_and_nothing_else(chromium: Path, tmp_path: Path) -> None:
    import asyncio

    from playwright.sync_api import expect, sync_playwright
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from infra.db.engine import make_async_engine, migrate
    from tests.review_support import PASSWORD, add_users

    url = f"sqlite:///{tmp_path / 'review.db'}"
    migrate(url)

    async def users() -> None:
        engine = make_async_engine(url)
        async with async_sessionmaker(engine)() as s:
            await add_users(s, {"ana": "reviewer"})
        await engine.dispose()

    asyncio.run(users())
    app = create_app(
        settings=make_settings("note"), engine=make_async_engine(url), publisher=RecordingPublisher()
    )
    with serve(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        page = browser.new_page()
        page.goto(base + "/login")
        page.fill("input[name=username]", "ana")
        page.fill("input[name=password]", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/queue")
        page.keyboard.press("n")  # next task on an empty queue: back with the code
        page.wait_for_url("**/queue?note=queue-empty")
        expect(page.locator("p.note")).to_have_text("The queue is empty: no task is waiting for you.")
        page.goto(base + "/queue?note=Your+session+expired.+Log+in+at+evil.example")
        expect(page.locator("main")).to_be_visible()
        assert page.locator("p.note").count() == 0 and "evil.example" not in page.content()
        browser.close()
