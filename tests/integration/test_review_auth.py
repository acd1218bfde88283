"""Review authentication against real databases: server-side sessions (logout, revoke,
expiry), disabled users, token expiry, the accounts page's roles, and a login flood
against a real uvicorn while a logged-in reviewer keeps working."""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.db.engine import make_async_engine, migrate
from infra.db.tables import ReviewSessionRow
from review.app import create_app
from review.auth import create_token
from tests.review_support import (
    PASSWORD,
    RecordingPublisher,
    add_users,
    client,
    csrf_of,
    login,
    make_settings,
    review_app,
    serve,
)


async def _token(app_engine, username: str, *, expires_at: datetime | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with async_sessionmaker(app_engine)() as s:
        token = await create_token(s, username=username, name="t", expires_at=expires_at)
    return {"Authorization": f"Bearer {token}"}


async def test_logout_and_revoke_end_the_session_server_side(db: tuple[str, str | None]) -> None:
    url, schema = db
    async with review_app(url, schema) as (app, engine), client(app) as c, client(app) as lead:
        csrf = await login(c, "ana")
        stolen = dict(c.cookies)  # what a copied cookie would replay
        assert (await c.get("/api/me")).json() == {"username": "ana", "role": "reviewer"}
        assert (await c.post("/logout", data={"csrf_token": csrf})).status_code == 303
        async with client(app) as replay:
            replay.cookies.update(stolen)
            assert (await replay.get("/api/me")).status_code == 401  # logout ended it server side

        await login(c, "ana")
        bearer = await _token(engine, "lee")
        live = (await lead.get("/api/admin/sessions", headers=bearer)).json()
        [mine] = [x for x in live if x["username"] == "ana"]
        assert mine["address"] and "python-httpx" in mine["user_agent"]
        assert (
            await lead.post(f"/api/admin/sessions/{mine['key']}/revoke", headers=bearer)
        ).status_code == 204
        assert (await c.get("/api/me")).status_code == 401
        assert (await c.get("/queue")).headers["location"] == "/login"
        again = await lead.post(f"/api/admin/sessions/{mine['key']}/revoke", headers=bearer)
        assert again.status_code == 404

        await login(c, "ana")  # an expired session counts no more than a revoked one
        async with async_sessionmaker(engine)() as s:
            await s.execute(
                update(ReviewSessionRow)
                .where(ReviewSessionRow.username == "ana", ReviewSessionRow.revoked_at.is_(None))  # type: ignore[union-attr]
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await s.commit()
        assert (await c.get("/api/me")).status_code == 401


async def test_disabled_user_is_refused_on_cookie_and_token(db: tuple[str, str | None]) -> None:
    url, schema = db
    async with review_app(url, schema) as (app, engine), client(app) as ana, client(app) as root:
        await login(ana, "ana")
        bearer = await _token(engine, "ana")
        assert (await ana.get("/api/me")).status_code == 200
        assert (await root.get("/api/me", headers=bearer)).status_code == 200

        csrf = await login(root, "root")
        page = await root.get("/admin")
        assert page.status_code == 200 and 'data-user="ana"' in page.text
        done = await root.post("/admin/users/ana/disable", data={"csrf_token": csrf})
        assert done.status_code == 303 and done.headers["location"].startswith("/admin?note=")
        assert (await ana.get("/api/me")).status_code == 401
        assert (await root.get("/api/me", headers=bearer)).status_code == 401
        tokens = (await root.get("/api/admin/tokens", params={"username": "ana"})).json()
        assert [t["state"] for t in tokens] == ["revoked"]
        async with client(app) as fresh:
            page = await fresh.get("/login")
            refused = await fresh.post(
                "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
            )
            assert refused.status_code == 401

        ok = await root.post("/api/admin/users/ana/enable", headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 204
        assert (await root.get("/api/me", headers=bearer)).status_code == 401  # revoked stays revoked
        await login(ana, "ana")
        assert (await ana.get("/api/me")).status_code == 200


async def test_expired_and_revoked_tokens_are_refused(db: tuple[str, str | None]) -> None:
    url, schema = db
    async with review_app(url, schema) as (app, engine), client(app) as c:
        expired = await _token(engine, "ana", expires_at=datetime.now(UTC) - timedelta(minutes=1))
        assert (await c.get("/api/me", headers=expired)).status_code == 401
        live = await _token(engine, "ana", expires_at=datetime.now(UTC) + timedelta(days=1))
        assert (await c.get("/api/me", headers=live)).status_code == 200

        csrf = await login(c, "ana")
        made = await c.post(
            "/api/tokens", json={"username": "ana", "name": "ci", "days": 7}, headers={"X-CSRF-Token": csrf}
        )
        assert made.status_code == 201
        expires = datetime.fromisoformat(made.json()["expires_at"])
        assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)

        admin = await _token(engine, "root")
        [listed] = [t for t in (await c.get("/api/admin/tokens", headers=admin)).json() if t["name"] == "ci"]
        assert listed["state"] == "live" and "token_hash" not in listed
        assert (await c.post(f"/api/admin/tokens/{listed['id']}/revoke", headers=admin)).status_code == 204
        assert (
            await c.get("/api/me", headers={"Authorization": f"Bearer {made.json()['token']}"})
        ).status_code == 401


async def test_accounts_page_and_api_need_the_right_role(sqlite_url: str) -> None:
    async with review_app(sqlite_url, None) as (app, engine), client(app) as ana, client(app) as lee:
        await login(ana, "ana")
        lee_csrf = await login(lee, "lee")
        assert (await ana.get("/admin")).status_code == 403
        for path in ("/api/admin/users", "/api/admin/sessions", "/api/admin/tokens"):
            assert (await ana.get(path)).status_code == 403
            assert (await lee.get(path)).status_code == 200
        assert (
            await ana.post(
                "/api/admin/users/lee/disable",
                headers={"X-CSRF-Token": csrf_of((await ana.get("/queue")).text)},
            )
        ).status_code == 403
        page = await lee.get("/admin")
        assert page.status_code == 200 and 'href="/admin"' in page.text
        assert "/admin/users/ana/disable" not in page.text  # leads revoke, only admins disable
        assert (await lee.post("/admin/users/ana/disable", data={"csrf_token": lee_csrf})).status_code == 403
        assert (
            await lee.post("/api/admin/users/ana/disable", headers={"X-CSRF-Token": lee_csrf})
        ).status_code == 403
        assert (await lee.post("/admin/users/ana/disable", data={})).status_code == 403  # no CSRF token
        users = {u["username"]: u for u in (await lee.get("/api/admin/users")).json()}
        assert users["ana"]["active"] and users["ana"]["live_sessions"] == 1

        root = await _token(engine, "root")
        weak = await lee.post(
            "/api/users",
            json={"username": "bo", "password": "password2024!", "role": "reviewer"},
            headers=root,
        )
        assert weak.status_code == 422 and "common" in weak.json()["detail"]
        long = await lee.post("/api/users", json={"username": "bo", "password": "x7-" * 100}, headers=root)
        assert long.status_code == 422 and "at most" in long.json()["detail"]
        fine = await lee.post(
            "/api/users", json={"username": "bo", "password": "plum-ladder-91-sky"}, headers=root
        )
        assert fine.status_code == 201


async def test_the_account_throttle_answers_429_with_retry_after(sqlite_url: str) -> None:
    settings = make_settings()
    settings.review.login_account_limit = 3
    async with review_app(sqlite_url, None, settings=settings) as (app, _), client(app) as c:
        csrf = csrf_of((await c.get("/login")).text)
        codes = []
        for _ in range(5):
            r = await c.post(
                "/login", data={"username": "ana", "password": "wrong-guess-xyz", "csrf_token": csrf}
            )
            codes.append(r.status_code)
        assert codes == [401, 401, 401, 429, 429]
        assert 1 <= int(r.headers["retry-after"]) <= 300 and "too many" in r.text
        # another account from the same address is not locked by ana's failures
        other = await c.post("/login", data={"username": "lee", "password": PASSWORD, "csrf_token": csrf})
        assert other.status_code == 303


def _flood_app(url: str, schema: str | None, *, address_limit: int) -> object:
    migrate(url, schema=schema)

    async def seed() -> None:
        engine = make_async_engine(url, schema=schema)
        async with async_sessionmaker(engine)() as s:
            await add_users(s, {"ana": "reviewer"})
        await engine.dispose()

    asyncio.run(seed())
    settings = make_settings()
    settings.review.login_address_limit = address_limit
    settings.review.login_account_limit = 5
    settings.review.login_window_s = 60
    # the app's engine is first used in uvicorn's thread and loop, never in this one
    return create_app(
        settings=settings, engine=make_async_engine(url, schema=schema), publisher=RecordingPublisher()
    )


async def _flood(base: str, *, loops: int) -> tuple[list[float], list[float], list[httpx.Response]]:
    """`loops` anonymous login loops, each until it has been refused with 429 three
    times, while a logged-in reviewer polls /api/me; returns (quiet latencies, latencies
    during the flood, the flood's answers)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as me:
        page = await me.get("/login")
        data = {"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
        assert (await me.post("/login", data=data)).status_code == 303

        async def timed() -> float:
            t0 = time.perf_counter()
            r = await me.get("/api/me")
            assert r.status_code == 200, r.text
            return (time.perf_counter() - t0) * 1000

        quiet = [await timed() for _ in range(20)]
        deadline = time.monotonic() + 120  # a bound for a very loaded machine, not a timing assertion
        answers: list[httpx.Response] = []
        running = loops

        async def attacker(i: int) -> None:
            nonlocal running
            async with httpx.AsyncClient(base_url=base, timeout=60) as c:
                csrf = csrf_of((await c.get("/login")).text)
                n = refused = 0
                while refused < 3 and time.monotonic() < deadline:
                    n += 1
                    data = {"username": f"guess{i}-{n}", "password": f"not-it-{n}-{i}", "csrf_token": csrf}
                    answers.append(r := await c.post("/login", data=data))
                    refused += r.status_code == 429
            running -= 1

        async def reviewer() -> list[float]:
            out = []
            while running:
                out.append(await timed())
                await asyncio.sleep(0.02)
            return out

        *_, busy = await asyncio.gather(*(attacker(i) for i in range(loops)), reviewer())
    return quiet, busy, answers


def test_login_flood_leaves_a_logged_in_reviewer_working(db: tuple[str, str | None]) -> None:
    url, schema = db
    with serve(_flood_app(url, schema, address_limit=12)) as base:
        quiet, busy, answers = asyncio.run(_flood(base, loops=4))
    codes = [r.status_code for r in answers]
    throttled = [r for r in answers if r.status_code == 429]

    def pct(xs: list[float], q: float) -> float:
        return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]

    print(
        f"\n[{'sqlite' if schema is None else 'postgres'}] /api/me ms: "
        f"quiet p50 {statistics.median(quiet):.1f} max {max(quiet):.1f}; "
        f"under 4 login loops ({len(answers)} logins: {codes.count(401)} x 401, "
        f"{len(throttled)} x 429) n={len(busy)} p50 {statistics.median(busy):.1f} p95 {pct(busy, 0.95):.1f} "
        f"max {max(busy):.1f}"
    )
    assert busy, "the reviewer made no request during the flood"
    assert set(codes) <= {401, 429}
    # the address limit (12, one taken by the reviewer's login), counted before any hashing
    assert codes.count(401) == 11
    assert len(throttled) >= 4 * 3 and all(1 <= int(r.headers["retry-after"]) <= 60 for r in throttled)
