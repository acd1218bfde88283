"""Review API and pages against real databases (SQLite file and a PostgreSQL schema)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.db.tables import ReviewSubmissionRow, ReviewTaskRow
from review.auth import create_token
from tests.review_support import (
    PASSWORD,
    RecordingPublisher,
    add_users,
    client,
    login,
    payloads,
    review_app,
    seed_tasks,
)


async def test_next_task_correct_and_complete_publishes_once(db: tuple[str, str | None]) -> None:
    url, schema = db
    seed_tasks(url, schema, n=3)
    pub = RecordingPublisher()
    async with review_app(url, schema, publisher=pub) as (app, _), client(app) as c:
        csrf = await login(c, "ana")
        r = await c.post("/api/tasks/next", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        task_id = r.json()["task_id"]
        body = {"outcome": "approve", "fields": {"total": "15.00", "vendor_name": "ACME Ltd"}}
        done = await c.post(f"/api/tasks/{task_id}/complete", json=body, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 202, done.text
        again = await c.post(f"/api/tasks/{task_id}/complete", json=body, headers={"X-CSRF-Token": csrf})
        assert again.status_code == 409
        assert again.json()["error"] == "AlreadySubmitted"
    [event] = payloads(pub)
    assert pub.sent[0][0] == "rv.review.completed"
    assert event["type"] == "review.completed"
    assert event["payload"]["task_id"] == task_id and event["payload"]["reviewer"] == "ana"
    assert event["payload"]["corrections"] == [
        {"field": "total", "old_value": "12.50", "new_value": "15.00", "old_confidence": 0.41}
    ]


async def test_completion_needs_your_lease_and_an_open_task(db: tuple[str, str | None]) -> None:
    url, schema = db
    [task_id] = seed_tasks(url, schema, n=1)
    pub = RecordingPublisher()
    async with review_app(url, schema, publisher=pub) as (app, engine), client(app) as a, client(app) as b:
        csrf_a, csrf_b = await login(a, "ana"), await login(b, "lee")
        assert (await a.post("/api/tasks/next", headers={"X-CSRF-Token": csrf_a})).json()[
            "task_id"
        ] == task_id
        assert (await b.post("/api/tasks/next", headers={"X-CSRF-Token": csrf_b})).status_code == 204
        stolen = await b.post(
            f"/api/tasks/{task_id}/complete", json={"outcome": "approve"}, headers={"X-CSRF-Token": csrf_b}
        )
        assert stolen.status_code == 409 and stolen.json()["error"] == "NotLeased"
        # The worker completed it meanwhile (e.g. another UI instance): a late answer is refused.
        async with async_sessionmaker(engine)() as s:
            await s.execute(update(ReviewTaskRow).values(status="completed"))
            await s.commit()
        late = await a.post(
            f"/api/tasks/{task_id}/complete", json={"outcome": "approve"}, headers={"X-CSRF-Token": csrf_a}
        )
        assert late.status_code == 409 and late.json()["error"] == "TaskClosed"
    assert pub.sent == []


async def test_leases_expire_and_pass_to_the_next_reviewer(sqlite_url: str) -> None:
    [task_id] = seed_tasks(sqlite_url, None, n=1)
    async with review_app(sqlite_url, None, lease_s=900) as (app, _), client(app) as a, client(app) as b:
        now = [datetime.now(UTC)]
        app.state.review.clock = lambda: now[0]
        csrf_a, csrf_b = await login(a, "ana"), await login(b, "lee")
        assert (await a.post("/api/tasks/next", headers={"X-CSRF-Token": csrf_a})).json()[
            "task_id"
        ] == task_id
        assert (await b.post("/api/tasks/next", headers={"X-CSRF-Token": csrf_b})).status_code == 204
        now[0] += timedelta(seconds=901)
        assert (await b.post("/api/tasks/next", headers={"X-CSRF-Token": csrf_b})).json()[
            "task_id"
        ] == task_id
        expired = await a.post(
            f"/api/tasks/{task_id}/complete", json={"outcome": "approve"}, headers={"X-CSRF-Token": csrf_a}
        )
        assert expired.status_code == 409 and expired.json()["error"] == "NotLeased"


async def test_concurrent_next_task_never_leases_a_task_twice(pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema
    seed_tasks(url, schema, n=25)
    async with review_app(url, schema) as (app, engine):
        sessions = async_sessionmaker(engine)
        async with sessions() as s:
            await add_users(s, {f"r{i}": "reviewer" for i in range(40)})
            tokens = [await create_token(s, username=f"r{i}", name="t") for i in range(40)]
        async with client(app) as c:
            replies = await asyncio.gather(
                *(c.post("/api/tasks/next", headers={"Authorization": f"Bearer {t}"}) for t in tokens)
            )
        leased = [r.json()["task_id"] for r in replies if r.status_code == 200]
        assert {r.status_code for r in replies} <= {200, 204}
        assert len(leased) == 25
        assert len(set(leased)) == len(leased)
        async with sessions() as s:
            holders = (await s.execute(select(ReviewTaskRow.assignee))).scalars().all()
        assert len(set(holders)) == 25 and None not in holders


async def test_forms_and_htmx_posts_without_csrf_token_are_refused(db: tuple[str, str | None]) -> None:
    url, schema = db
    seed_tasks(url, schema, n=1)
    async with review_app(url, schema) as (app, _), client(app) as c:
        page = await c.get("/login")
        refused = await c.post(
            "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": "forged"}
        )
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert page.status_code == 200
        csrf = await login(c, "ana")
        assert (await c.post("/next", data={})).status_code == 403
        assert (await c.post("/api/tasks/next", headers={"X-CSRF-Token": "wrong"})).status_code == 403
        assert (
            await c.post("/next", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
        ).status_code == 204
        ok = await c.post("/next", data={"csrf_token": csrf})
        assert ok.status_code == 303 and ok.headers["location"].startswith("/tasks/")


async def test_hostile_document_text_is_rendered_escaped(sqlite_url: str) -> None:
    hostile = '<script>alert("pwned")</script><img src=x onerror=alert(1)> & "quotes"'
    [task_id] = seed_tasks(sqlite_url, None, n=1, text=hostile, reason="<b>odd</b>")
    async with review_app(sqlite_url, None) as (app, _), client(app) as c:
        await login(c, "ana")
        page = await c.get(f"/tasks/{task_id}")
        queue_page = await c.get("/queue")
    assert page.status_code == 200
    assert (
        "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
    )
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "<b>odd</b>" not in queue_page.text and "&lt;b&gt;odd&lt;/b&gt;" in queue_page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_tokens_roles_and_unauthenticated_access(db: tuple[str, str | None]) -> None:
    url, schema = db
    seed_tasks(url, schema, n=2, reason="same")
    pub = RecordingPublisher()
    async with review_app(url, schema, publisher=pub) as (app, _), client(app) as c:
        assert (await c.get("/api/tasks")).status_code == 401
        assert (await c.get("/queue")).headers["location"] == "/login"
        assert (await c.get("/api/tasks", headers={"Authorization": "Bearer nope"})).status_code == 401
        csrf = await login(c, "root")
        made = await c.post(
            "/api/tokens", json={"username": "ana", "name": "ci"}, headers={"X-CSRF-Token": csrf}
        )
        token = made.json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        tasks = (await c.get("/api/tasks", headers=bearer)).json()
        assert len(tasks) == 2
        ids = [t["task_id"] for t in tasks]
        forbidden = await c.post("/api/tasks/bulk-approve", json={"task_ids": ids}, headers=bearer)
        assert forbidden.status_code == 403
        bulk = await c.post(
            "/api/tasks/bulk-approve",
            json={"task_ids": ids, "reason": "batch ok"},
            headers={"X-CSRF-Token": csrf},
        )
        assert bulk.json() == {i: "submitted" for i in ids}
        assert (await c.get("/api/tasks", headers=bearer)).json() == []
    assert sorted(p["payload"]["task_id"] for p in payloads(pub)) == sorted(ids)


async def test_bulk_approve_refuses_mixed_reasons(sqlite_url: str) -> None:
    ids = seed_tasks(sqlite_url, None, n=1, reason="a") + seed_tasks(sqlite_url, None, n=1, reason="b")
    async with review_app(sqlite_url, None) as (app, _), client(app) as c:
        csrf = await login(c, "lee")
        r = await c.post("/api/tasks/bulk-approve", json={"task_ids": ids}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and "one reason" in r.json()["detail"]


async def test_broker_failure_records_nothing_and_a_retry_succeeds(sqlite_url: str) -> None:
    seed_tasks(sqlite_url, None, n=1)
    pub = RecordingPublisher()
    async with review_app(sqlite_url, None, publisher=pub) as (app, engine), client(app) as c:
        csrf = await login(c, "ana")
        task_id = (await c.post("/api/tasks/next", headers={"X-CSRF-Token": csrf})).json()["task_id"]
        pub.fail = True
        down = await c.post(
            f"/api/tasks/{task_id}/complete",
            json={"outcome": "reject", "reason": "fake", "reject_kind": "business"},
            headers={"X-CSRF-Token": csrf},
        )
        assert down.status_code == 503
        async with async_sessionmaker(engine)() as s:
            assert (await s.execute(select(ReviewSubmissionRow))).first() is None
        pub.fail = False
        ok = await c.post(
            f"/api/tasks/{task_id}/complete",
            json={"outcome": "reject", "reason": "fake", "reject_kind": "business"},
            headers={"X-CSRF-Token": csrf},
        )
        assert ok.status_code == 202
        no_reason = await c.post(
            f"/api/tasks/{task_id}/complete", json={"outcome": "reject"}, headers={"X-CSRF-Token": csrf}
        )
        assert no_reason.status_code == 422
    assert [p["payload"]["outcome"] for p in payloads(pub)] == ["reject"]


async def test_audit_dashboard_and_queue_filters(db: tuple[str, str | None]) -> None:
    url, schema = db
    seed_tasks(url, schema, n=3, reason="low_confidence")
    seed_tasks(url, schema, n=2, reason="duplicate", kind="claim")
    async with review_app(url, schema) as (app, _), client(app) as c:
        csrf = await login(c, "ana")
        claims = (await c.get("/api/tasks", params={"kind": "claim"})).json()
        assert {t["primary_reason"] for t in claims} == {"duplicate"} and len(claims) == 2
        old = (await c.get("/api/tasks", params={"min_age_hours": 1.5})).json()
        assert len(old) == 1  # seeded ages: 0, 1, 2 h and 0, 1 h
        ordered = (await c.get("/api/tasks")).json()
        keys = [(-t["priority"], t["due_at"]) for t in ordered]
        assert keys == sorted(keys)
        task_id = (await c.post("/api/tasks/next", headers={"X-CSRF-Token": csrf})).json()["task_id"]
        mine = (await c.get("/api/tasks", params={"assignee": "ana"})).json()
        assert [t["task_id"] for t in mine] == [task_id]
        await c.post(
            f"/api/tasks/{task_id}/escalate",
            json={"reason": "policy question"},
            headers={"X-CSRF-Token": csrf},
        )
        doc_id = (await c.get(f"/api/tasks/{task_id}")).json()["task"]["document_id"]
        audit = (await c.get(f"/api/documents/{doc_id}/audit")).json()
        stages = [(e["stage"], e["summary"]) for e in audit["entries"]]
        assert stages[0][0] == "received"
        assert ("review", "leased") in stages and ("review", "escalated") in stages
        assert {"triage", "extraction", "rules"} <= {s for s, _ in stages}
        board = (await c.get("/api/dashboard")).json()
        assert board["depth"] == 5 and sum(b["value"] for b in board["age"]) == 5
        html = await c.get("/dashboard")
        assert html.status_code == 200 and "<svg" in html.text
        assert (await c.get("/api/tasks", params={"min_priority": 100})).json()[0]["task_id"] == task_id


async def test_task_page_form_submission_with_htmx(sqlite_url: str) -> None:
    seed_tasks(sqlite_url, None, n=1)
    pub = RecordingPublisher()
    async with review_app(sqlite_url, None, publisher=pub) as (app, _), client(app) as c:
        csrf = await login(c, "ana")
        loc = (await c.post("/next", data={"csrf_token": csrf})).headers["location"]
        page = await c.get(loc)
        assert 'tr class="field low" data-field="total"' in page.text
        for key in ("j", "k", "e", "a", "r", "i", "n", "?"):
            assert f"<kbd>{key}</kbd>" in page.text
        r = await c.post(
            f"{loc}/complete",
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
            data={"outcome": "request_info", "reason": "need receipt", "f.total": "12.50"},
        )
        assert r.status_code == 200 and 'id="submitted"' in r.text
        again = await c.post(
            f"{loc}/complete",
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
            data={"outcome": "approve"},
        )
        assert again.status_code == 409 and "AlreadySubmitted" in again.text
    [event] = payloads(pub)
    assert event["payload"]["outcome"] == "request_info" and event["payload"]["corrections"] == []
    assert json.loads(pub.sent[0][2])["payload"]["reason"] == "need receipt"


async def test_a_task_past_its_sla_outranks_higher_priority_work(db: tuple[str, str | None]) -> None:
    url, schema = db
    now = datetime.now(UTC)
    # created 30 h ago with a 24 h SLA: overdue by 6 h, at the lowest seeded priority (50)
    [late] = seed_tasks(url, schema, n=1, now=now - timedelta(hours=30))
    seed_tasks(url, schema, n=5, now=now)  # priorities 50..54, none due yet
    async with review_app(url, schema) as (app, _), client(app) as c:
        csrf = await login(c, "ana")
        ordered = (await c.get("/api/tasks")).json()
        assert ordered[0]["task_id"] == late
        rest = [(-t["priority"], t["due_at"]) for t in ordered[1:]]
        assert rest == sorted(rest)  # the others still by priority, then due time
        taken = (await c.post("/api/tasks/next", headers={"X-CSRF-Token": csrf})).json()["task_id"]
        assert taken == late
