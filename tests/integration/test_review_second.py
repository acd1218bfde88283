"""Second review and reconcile through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Session, col

from infra.db.engine import make_engine
from infra.db.tables import ExtractionRow, ReviewOpinionRow, ReviewSubmissionRow, ReviewTaskRow
from review.second import DoubleReviewPolicy
from tests.review_support import (
    RecordingPublisher,
    client,
    login,
    make_settings,
    payloads,
    review_app,
    seed_tasks,
)

USERS = {"ana": "reviewer", "bob": "reviewer", "cy": "reviewer", "lee": "lead", "root": "admin"}


async def _next(c: httpx.AsyncClient, csrf: str) -> httpx.Response:
    return await c.post("/api/tasks/next", headers={"X-CSRF-Token": csrf})


async def _answer(c: httpx.AsyncClient, csrf: str, task_id: str, **body: Any) -> httpx.Response:
    return await c.post(f"/api/tasks/{task_id}/complete", json=body, headers={"X-CSRF-Token": csrf})


async def test_the_first_reviewer_can_never_be_the_second(db: tuple[str, str | None]) -> None:
    url, schema = db
    [task_id] = seed_tasks(url, schema, n=1)
    pub = RecordingPublisher()
    settings = make_settings(second_share=1.0)
    async with (
        review_app(url, schema, publisher=pub, users=USERS, settings=settings) as (app, _),
        client(app) as ana,
        client(app) as bob,
        client(app) as lee,
    ):
        ca, cb, cl = await login(ana, "ana"), await login(bob, "bob"), await login(lee, "lee")
        assert (await _next(ana, ca)).json()["task_id"] == task_id
        first = await _answer(ana, ca, task_id, outcome="approve", fields={"total": "15.00"})
        assert first.status_code == 202 and first.json()["stage"] == "second"
        assert first.json()["event_id"] is None and pub.sent == []
        # Back in the queue, unleased, but never for ana: not by next, claim or reassign.
        assert (await _next(ana, ca)).status_code == 204
        own = (await ana.get(f"/tasks/{task_id}")).text
        assert "its next review is someone else" in own and 'id="review-form"' not in own
        claimed = await ana.post(f"/api/tasks/{task_id}/claim", headers={"X-CSRF-Token": ca})
        assert claimed.status_code == 409 and claimed.json()["error"] == "SameReviewer"
        handed = await lee.post(
            f"/api/tasks/{task_id}/reassign", json={"assignee": "ana"}, headers={"X-CSRF-Token": cl}
        )
        assert handed.status_code == 409 and handed.json()["error"] == "SameReviewer"
        # The second reviewer answers blind: no first answer in the task, page or audit.
        assert (await _next(bob, cb)).json()["task_id"] == task_id
        view = (await bob.get(f"/api/tasks/{task_id}")).json()
        assert view["review"]["stage"] == "second" and view["review"]["answers"] == []
        assert view["submission"] is None
        page = (await bob.get(f"/tasks/{task_id}")).text
        assert "second review (blind)" in page and "15.00" not in page
        audit = (await bob.get(f"/api/documents/{view['task']['document_id']}/audit")).json()
        assert "15.00" not in str(audit) and "approve" not in str(audit)


async def test_agreement_publishes_exactly_one_completion(db: tuple[str, str | None]) -> None:
    url, schema = db
    [task_id] = seed_tasks(url, schema, n=1)
    pub = RecordingPublisher()
    settings = make_settings(second_share=1.0)
    async with (
        review_app(url, schema, publisher=pub, users=USERS, settings=settings) as (app, engine),
        client(app) as ana,
        client(app) as bob,
        client(app) as cy,
    ):
        ca, cb, cc = await login(ana, "ana"), await login(bob, "bob"), await login(cy, "cy")
        await _next(ana, ca)
        await _answer(ana, ca, task_id, outcome="approve", reason="ok", fields={"total": "15.00"})
        await _next(bob, cb)
        # Same values after normalisation (spaces), and an untouched field sent as is.
        agreed = await _answer(
            bob, cb, task_id, outcome="approve", fields={"total": " 15.00 ", "vendor_name": "ACME Ltd"}
        )
        assert agreed.status_code == 202, agreed.text
        assert agreed.json()["stage"] == "final" and agreed.json()["event_id"]
        assert (await _next(cy, cc)).status_code == 204
        late = await cy.post(f"/api/tasks/{task_id}/claim", headers={"X-CSRF-Token": cc})
        assert late.status_code == 409
    async with async_sessionmaker(engine)() as s:
        sub = (await s.execute(select(ReviewSubmissionRow))).scalar_one()
        rounds = (await s.execute(select(col(ReviewOpinionRow.round)))).scalars().all()
    [event] = payloads(pub)
    assert event["payload"]["reviewer"] == "ana+bob" == sub.reviewer
    assert event["payload"]["outcome"] == "approve" and event["payload"]["reason"] == "ok"
    assert event["payload"]["corrections"] == [
        {"field": "total", "old_value": "12.50", "new_value": "15.00", "old_confidence": 0.41}
    ]
    assert sorted(rounds) == [1, 2]


async def test_disagreement_goes_to_a_lead_who_publishes_once(db: tuple[str, str | None]) -> None:
    url, schema = db
    [task_id] = seed_tasks(url, schema, n=1)
    pub = RecordingPublisher()
    settings = make_settings(second_share=1.0)
    async with (
        review_app(url, schema, publisher=pub, users=USERS, settings=settings) as (app, _),
        client(app) as ana,
        client(app) as bob,
        client(app) as cy,
        client(app) as lee,
    ):
        ca, cb, cc, cl = [
            await login(x, n) for x, n in ((ana, "ana"), (bob, "bob"), (cy, "cy"), (lee, "lee"))
        ]
        await _next(ana, ca)
        await _answer(ana, ca, task_id, outcome="approve", fields={"total": "15.00"})
        await _next(bob, cb)
        differs = await _answer(bob, cb, task_id, outcome="approve", fields={"total": "16.00"})
        assert differs.json()["stage"] == "reconcile" and pub.sent == []
        waiting = (await cy.get("/api/tasks", params={"stage": "reconcile"})).json()
        assert [t["task_id"] for t in waiting] == [task_id] and waiting[0]["stage"] == "reconcile"
        # Reviewers cannot take it, by next, claim or answer.
        assert (await _next(cy, cc)).status_code == 204
        refused = await cy.post(f"/api/tasks/{task_id}/claim", headers={"X-CSRF-Token": cc})
        assert refused.status_code == 403
        assert "only a lead or admin may reconcile" in (await cy.get(f"/tasks/{task_id}")).text
        # The lead sees both answers side by side, the differing field marked.
        assert (await _next(lee, cl)).json()["task_id"] == task_id
        state = (await lee.get(f"/api/tasks/{task_id}")).json()["review"]
        compared = {f["name"]: f for f in state["fields"]}
        assert compared["total"]["values"] == ["15.00", "16.00"] and compared["total"]["differs"]
        assert compared["vendor_name"]["values"] == ["ACME Ltd", "ACME Ltd"]
        assert not compared["vendor_name"]["differs"] and not state["outcomes_differ"]
        page = (await lee.get(f"/tasks/{task_id}")).text
        assert '<tr class="differs" data-field="total">' in page
        assert '<tr class="" data-field="vendor_name">' in page
        done = await _answer(
            lee,
            cl,
            task_id,
            outcome="reject",
            reason="amount unclear",
            fields={"total": "16.00"},
            reject_kind="fields",
        )
        assert done.status_code == 202 and done.json()["stage"] == "final"
        again = await _answer(lee, cl, task_id, outcome="approve")
        assert again.status_code == 409
    [event] = payloads(pub)
    assert event["payload"]["reviewer"] == "lee" and event["payload"]["outcome"] == "reject"
    assert event["payload"]["reject_kind"] == "fields"
    assert [c["new_value"] for c in event["payload"]["corrections"]] == ["16.00"]


async def test_a_lead_who_reviewed_cannot_reconcile_but_an_admin_can(sqlite_url: str) -> None:
    [task_id] = seed_tasks(sqlite_url, None, n=1)
    pub = RecordingPublisher()
    settings = make_settings(second_share=1.0)
    async with (
        review_app(sqlite_url, None, publisher=pub, users=USERS, settings=settings) as (app, _),
        client(app) as lee,
        client(app) as bob,
        client(app) as root,
    ):
        cl, cb, cr = await login(lee, "lee"), await login(bob, "bob"), await login(root, "root")
        await _next(lee, cl)
        first = await lee.post(
            f"/tasks/{task_id}/complete",
            headers={"HX-Request": "true", "X-CSRF-Token": cl},
            data={"outcome": "approve"},
        )
        assert first.status_code == 200 and 'data-stage="second"' in first.text
        await _next(bob, cb)
        form = await bob.post(
            f"/tasks/{task_id}/complete",
            headers={"HX-Request": "true", "X-CSRF-Token": cb},
            data={"outcome": "reject", "reason": "looks forged", "reject_kind": "business"},
        )
        assert form.status_code == 200 and 'data-stage="reconcile"' in form.text
        assert (await _next(lee, cl)).status_code == 204
        assert (await _next(root, cr)).json()["task_id"] == task_id
        assert (await _answer(root, cr, task_id, outcome="approve")).json()["stage"] == "final"
        board = (await root.get("/dashboard")).text
        assert "outcome agreed on 0" in board
    assert [p["payload"]["reviewer"] for p in payloads(pub)] == ["root"]


async def test_amount_and_share_rules_select_tasks(db: tuple[str, str | None]) -> None:
    url, schema = db
    big, small, raised, tiny = seed_tasks(url, schema, n=4, reason="same")
    _set_total(url, schema, task_id=big, value="7500.00")
    pub = RecordingPublisher()
    settings = make_settings(second_share=0.0, second_amount=5000.0)
    async with (
        review_app(url, schema, publisher=pub, users=USERS, settings=settings) as (app, _),
        client(app) as ana,
        client(app) as lee,
    ):
        ca, cl = await login(ana, "ana"), await login(lee, "lee")
        bulk = await lee.post(
            "/api/tasks/bulk-approve", json={"task_ids": [big, small]}, headers={"X-CSRF-Token": cl}
        )
        assert bulk.json()[small] == "submitted" and "needs two reviewers" in bulk.json()[big]
        for task_id in (big, raised):
            await ana.post(f"/api/tasks/{task_id}/claim", headers={"X-CSRF-Token": ca})
        held = await _answer(ana, ca, big, outcome="approve")
        # A correction that lifts the amount over the limit counts too.
        lifted = await _answer(ana, ca, raised, outcome="approve", fields={"total": "9000.00"})
        assert held.json()["stage"] == "second" and lifted.json()["stage"] == "second"
        # The share rule alone: at share 1 even a small task waits for a second reviewer.
        app.state.review.policy = DoubleReviewPolicy(share=1.0, amount=5000.0)
        await ana.post(f"/api/tasks/{tiny}/claim", headers={"X-CSRF-Token": ca})
        assert (await _answer(ana, ca, tiny, outcome="approve")).json()["stage"] == "second"
    assert [p["payload"]["task_id"] for p in payloads(pub)] == [small]


def _set_total(url: str, schema: str | None, *, task_id: str, value: str) -> None:
    engine = make_engine(url, schema=schema)
    with Session(engine) as s:
        task = s.get(ReviewTaskRow, task_id)
        assert task is not None
        row = s.get(ExtractionRow, task.document_id)
        assert row is not None
        row.result = {
            **row.result,
            "fields": {**row.result["fields"], "total": {"value": value, "confidence": 0.99}},
        }
        s.add(row)
        s.commit()
    engine.dispose()


def _op(task_id: str, rnd: int, who: str, outcome: str, **fields: str) -> ReviewOpinionRow:
    return ReviewOpinionRow(
        task_id=task_id,
        document_id="unused-" + task_id,
        kind="invoice",
        round=rnd,
        reviewer=who,
        outcome=outcome,
        corrections=[
            {"field": f, "old_value": None, "new_value": v, "old_confidence": 0.5} for f, v in fields.items()
        ],
    )


async def test_agreement_statistics_on_a_hand_made_set(db: tuple[str, str | None]) -> None:
    url, schema = db
    t1, t2, t3, t4, t5 = seed_tasks(url, schema, n=5)
    async with review_app(url, schema, users=USERS) as (app, engine):
        async with async_sessionmaker(engine)() as s:
            s.add_all(
                [
                    _op(t1, 1, "ana", "approve", total="15"),
                    _op(t1, 2, "bob", "approve", total="15"),
                    _op(t2, 1, "ana", "approve", total="15"),
                    _op(t2, 2, "bob", "reject"),
                    _op(t2, 3, "lee", "reject"),  # a reconcile answer is not a rater's
                    _op(t3, 1, "bob", "reject", vendor_name="ACME"),
                    _op(t3, 2, "ana", "reject", vendor_name="ACME Ltd."),
                    _op(t4, 1, "ana", "request_info"),
                    _op(t4, 2, "cy", "approve", total="9"),
                    _op(t5, 1, "ana", "approve"),  # awaiting its second review: not counted
                ]
            )
            await s.commit()
        async with client(app) as c:
            await login(c, "ana")
            ag = (await c.get("/api/agreement")).json()
            board = (await c.get("/api/dashboard")).json()
            page = (await c.get("/dashboard")).text
    by = {f["field"]: (f["agreed"], f["total"]) for f in ag["fields"]}
    assert (ag["tasks"], ag["outcome_agreed"], ag["outcome_rate"]) == (4, 2, 0.5)
    assert by["total"] == (2, 4) and by["vendor_name"] == (3, 4) and by["invoice_number"] == (4, 4)
    assert abs(ag["outcome_kappa"] - 0.2) < 1e-9  # p_o 0.5, p_e 0.375 by hand
    assert board["agreement"] == ag
    # Throughput counts each person's answers, not the "a+b" names of agreed tasks.
    assert {b["label"]: b["value"] for b in board["throughput_24h"]} == {
        "ana": 5,
        "bob": 3,
        "cy": 1,
        "lee": 1,
    }
    assert 'id="agreement"' in page and "outcome agreed on 2" in page and "κ 0.20" in page
