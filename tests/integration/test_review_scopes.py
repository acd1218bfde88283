"""Queue scopes (review/scopes.py) on SQLite and PostgreSQL: a reviewer reaches only the
tasks, audits and PDF pages their scopes match, through the API and the pages alike;
anything else answers exactly as a missing id does (404). Leads assign scopes."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import update
from sqlmodel import Session

from infra.db.engine import make_engine, migrate
from infra.db.tables import DocumentRow, ReviewTaskRow, ReviewUserRow
from infra.pdf import parse_pdf
from tests.review_support import client, login, make_settings, review_app, seed_tasks

T = ReviewTaskRow
PDF = Path(__file__).resolve().parents[2] / "data" / "invoices" / "AmazonWebServices.pdf"
USERS = {"ana": "reviewer", "bob": "reviewer", "cy": "reviewer", "nobody": "reviewer", "lee": "lead"}


def _world(url: str, schema: str | None) -> tuple[str, str, str, str]:
    """A: an invoice from ACME Ltd for 12.50; B: a health claim for 9000 in the named
    queue 'fraud', with a PDF. Returns (task A, document A, task B, document B)."""
    [a] = seed_tasks(url, schema, n=1)
    [b] = seed_tasks(url, schema, n=1, kind="claim", reason="high_amount")
    data = PDF.read_bytes()
    lines, _ = parse_pdf(data=data)
    engine = make_engine(url, schema=schema)
    with Session(engine) as s:
        s.execute(update(T).where(col_id(a)).values(vendor="acme ltd", amount=12.5))
        s.execute(update(T).where(col_id(b)).values(claim_type="health", amount=9000.0, queue="fraud"))
        doc_a, doc_b = (s.get(T, t).document_id for t in (a, b))  # type: ignore[union-attr]
        s.execute(
            update(DocumentRow)
            .where(DocumentRow.document_id == doc_b)  # type: ignore[arg-type]
            .values(original_pdf=data, layout=[ln.model_dump(mode="json") for ln in lines])
        )
        s.commit()
    engine.dispose()
    return a, doc_a, b, doc_b


def col_id(task_id: str) -> Any:
    return T.task_id == task_id  # type: ignore[arg-type]


def h(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


async def grant(lead: httpx.AsyncClient, csrf: str, username: str, **scope: Any) -> int:
    r = await lead.post(f"/api/users/{username}/scopes", json=scope, headers=h(csrf))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def probes(task: str, doc: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every route that names a task or a document, as (method, path, body)."""
    return [
        ("GET", f"/api/tasks/{task}", {}),
        ("POST", f"/api/tasks/{task}/claim", {}),
        ("POST", f"/api/tasks/{task}/release", {}),
        ("POST", f"/api/tasks/{task}/escalate", {"json": {"reason": "x"}}),
        ("POST", f"/api/tasks/{task}/complete", {"json": {"outcome": "approve"}}),
        ("GET", f"/api/documents/{doc}/audit", {}),
        ("GET", f"/tasks/{task}", {}),
        ("POST", f"/tasks/{task}/claim", {}),
        ("POST", f"/tasks/{task}/release", {}),
        ("POST", f"/tasks/{task}/escalate", {"data": {"reason": "x"}}),
        ("POST", f"/tasks/{task}/complete", {"data": {"outcome": "approve"}}),
        ("GET", f"/documents/{doc}/audit", {}),
        ("GET", f"/documents/{doc}/pages/0.png", {}),
    ]


async def test_idor_matrix_out_of_scope_is_404_like_a_missing_id(db: tuple[str, str | None]) -> None:
    url, schema = db
    a, doc_a, b, doc_b = _world(url, schema)
    settings = make_settings(reviewers_see_all=False)
    async with (
        review_app(url, schema, users=USERS, settings=settings) as (app, _),
        client(app) as lead,
        client(app) as ana,
        client(app) as bob,
    ):
        csrf_l = await login(lead, "lee")
        await grant(lead, csrf_l, "ana", vendor="ACME  LTD")  # case and spaces do not matter
        await grant(lead, csrf_l, "bob", queue="fraud")
        csrf_a, csrf_b = await login(ana, "ana"), await login(bob, "bob")
        # B is leased to bob; ana, out of scope, must not even learn that it exists.
        assert (await bob.post("/api/tasks/next", headers=h(csrf_b))).json() == {"task_id": b}
        never_task, never_doc = str(uuid.uuid4()), "doc-never-stored"
        for (method, path, kw), (_, missing, _) in zip(
            probes(b, doc_b), probes(never_task, never_doc), strict=True
        ):
            out = await ana.request(method, path, headers=h(csrf_a), **kw)
            gone = await ana.request(method, missing, headers=h(csrf_a), **kw)
            assert (out.status_code, gone.status_code) == (404, 404), (method, path, out.text)
            same = out.text.replace(b, never_task).replace(doc_b, never_doc)
            assert same == gone.text, (method, path)
        # ...and bob likewise for A; each still reaches their own.
        for method, path, kw in probes(a, doc_a)[:1] + probes(a, doc_a)[5:7] + probes(a, doc_a)[11:12]:
            assert (await bob.request(method, path, headers=h(csrf_b), **kw)).status_code == 404, path
            assert (await ana.request(method, path, headers=h(csrf_a), **kw)).status_code == 200, path
        assert (await bob.get(f"/documents/{doc_b}/pages/0.png")).status_code == 200
        assert (await bob.get(f"/api/documents/{doc_b}/audit")).status_code == 200
        # Nothing leased, released or escalated on B by ana's probes.
        task_b = (await lead.get(f"/api/tasks/{b}")).json()["task"]
        assert task_b["assignee"] == "bob" and task_b["priority"] != 100
        assert [e["summary"] for e in (await lead.get(f"/api/documents/{doc_b}/audit")).json()["entries"]
                if e["stage"] == "review"] == ["leased"]  # fmt: skip


async def test_lists_counts_and_next_keep_to_the_scopes(db: tuple[str, str | None]) -> None:
    url, schema = db
    a, doc_a, b, doc_b = _world(url, schema)
    settings = make_settings(reviewers_see_all=False)
    async with (
        review_app(url, schema, users=USERS, settings=settings) as (app, _),
        client(app) as lead,
        client(app) as ana,
        client(app) as nobody,
        client(app) as cy,
    ):
        csrf_l = await login(lead, "lee")
        await grant(lead, csrf_l, "ana", kind="invoice")
        # A band that holds 9000 and the claim type: cy sees B only.
        await grant(lead, csrf_l, "cy", kind="claim", claim_type="health", amount_min=5000, amount_max=10000)
        csrf_a, csrf_n, csrf_c = await login(ana, "ana"), await login(nobody, "nobody"), await login(cy, "cy")
        assert [t["task_id"] for t in (await ana.get("/api/tasks")).json()] == [a]
        assert [t["task_id"] for t in (await cy.get("/api/tasks")).json()] == [b]
        assert (await nobody.get("/api/tasks")).json() == []
        assert {t["task_id"] for t in (await lead.get("/api/tasks")).json()} == {a, b}
        queue_page = (await ana.get("/queue")).text
        assert doc_a in queue_page and doc_b not in queue_page and "claim" not in queue_page
        assert (await ana.get("/api/dashboard")).json()["depth"] == 1
        assert (await nobody.get("/api/dashboard")).json()["depth"] == 0
        assert (await lead.get("/api/dashboard")).json()["depth"] == 2
        assert (await nobody.post("/api/tasks/next", headers=h(csrf_n))).status_code == 204
        assert (await ana.post("/api/tasks/next", headers=h(csrf_a))).json() == {"task_id": a}
        assert (await cy.post("/api/tasks/next", headers=h(csrf_c))).json() == {"task_id": b}
        # A band that stops below the amount (max is exclusive) does not match.
        await grant(lead, csrf_l, "nobody", kind="claim", amount_max=9000)
        assert (await nobody.get("/api/tasks")).json() == []
        # A lead hands a task only to someone who may see it.
        out = await lead.post(f"/api/tasks/{b}/reassign", json={"assignee": "ana"}, headers=h(csrf_l))
        assert out.status_code == 422 and "outside ana's scopes" in out.json()["detail"]
        ok = await lead.post(f"/api/tasks/{a}/reassign", json={"assignee": "ana"}, headers=h(csrf_l))
        assert ok.status_code == 204


async def test_reviewers_see_all_when_the_deployment_says_so(sqlite_url: str) -> None:
    a, _, b, _ = _world(sqlite_url, None)
    async with (
        review_app(sqlite_url, None, users=USERS, settings=make_settings(reviewers_see_all=True)) as (app, _),
        client(app) as nobody,
    ):
        await login(nobody, "nobody")
        assert {t["task_id"] for t in (await nobody.get("/api/tasks")).json()} == {a, b}


async def test_scopes_are_assigned_by_leads_and_validated(db: tuple[str, str | None]) -> None:
    url, schema = db
    a, _, b, _ = _world(url, schema)
    settings = make_settings(reviewers_see_all=False)
    async with (
        review_app(url, schema, users=USERS, settings=settings) as (app, _),
        client(app) as lead,
        client(app) as ana,
    ):
        csrf_l, csrf_a = await login(lead, "lee"), await login(ana, "ana")
        # The wrong user: a reviewer may neither add, remove, nor read another's scopes.
        wrong = await ana.post("/api/users/ana/scopes", json={"all": True}, headers=h(csrf_a))
        assert wrong.status_code == 403
        assert (await ana.get("/api/users/bob/scopes")).status_code == 403
        assert (await ana.get("/api/scopes")).status_code == 403
        no_csrf = await lead.post("/api/users/ana/scopes", json={"all": True})
        assert no_csrf.status_code == 403
        for bad in [
            {},
            {"all": True, "kind": "invoice"},
            {"kind": "memo"},
            {"claim_type": "boat"},
            {"amount_min": 100, "amount_max": 100},
            {"amount_min": -1},
            {"queue": "Bad Queue"},
            {"queue": "../x"},
            {"vendor": "   "},
            {"vendor": "x" * 201},
            {"kind": "invoice", "colour": "red"},
        ]:
            r = await lead.post("/api/users/ana/scopes", json=bad, headers=h(csrf_l))
            assert r.status_code == 422, (bad, r.text)
        unknown = await lead.post("/api/users/ghost/scopes", json={"all": True}, headers=h(csrf_l))
        assert unknown.status_code == 422 and "no user" in unknown.json()["detail"]
        assert (await ana.get("/api/tasks")).json() == []
        scope_id = await grant(lead, csrf_l, "ana", all=True)
        assert {t["task_id"] for t in (await ana.get("/api/tasks")).json()} == {a, b}
        [mine] = (await ana.get("/api/users/ana/scopes")).json()
        assert mine["id"] == scope_id and mine["created_by"] == "lee" and mine["kind"] is None
        assert (await ana.delete(f"/api/users/ana/scopes/{scope_id}", headers=h(csrf_a))).status_code == 403
        other = await lead.delete(f"/api/users/bob/scopes/{scope_id}", headers=h(csrf_l))
        assert other.status_code == 404  # not bob's
        gone = await lead.delete(f"/api/users/ana/scopes/{scope_id}", headers=h(csrf_l))
        assert gone.status_code == 204
        assert (await ana.get("/api/tasks")).json() == []
        assert (await ana.get(f"/api/tasks/{a}")).status_code == 404


def test_migration_fills_in_open_tasks(db: tuple[str, str | None]) -> None:
    """Tasks routed before 0010 get their vendor, claim type and amount from the stored
    extraction, so scopes match them as they match new ones."""
    url, schema = db
    migrate(url, schema=schema, revision="0009")
    engine = make_engine(url, schema=schema)
    meta = sa.MetaData()
    docs = sa.Table("documents", meta, autoload_with=engine)
    extractions = sa.Table("extractions", meta, autoload_with=engine)
    tasks = sa.Table("review_tasks", meta, autoload_with=engine)
    assert "vendor" not in tasks.c
    doc_id = f"old-{uuid.uuid4().hex[:8]}"
    now = sa.func.now()
    result = {
        "kind": "claim",
        "model_version": "x",
        "fields": {
            "claimed_amount": {"value": "1,500.00", "confidence": 0.9},
            "claim_type": {"value": "auto", "confidence": 0.9},
        },
    }
    with engine.begin() as c:
        c.execute(
            docs.insert().values(
                document_id=doc_id, event_id=doc_id, kind="claim", claim_type="health", content_hash="h",
                text="t", layout=[], source="s", status="review", received_at=now,
            )
        )  # fmt: skip
        c.execute(
            extractions.insert().values(document_id=doc_id, model_version="x", result=result, created_at=now)
        )
        c.execute(
            tasks.insert().values(
                task_id=doc_id, document_id=doc_id, kind="claim", status="open", priority=1, due_at=now,
                reasons=[], primary_reason="r", created_at=now,
            )
        )  # fmt: skip
    migrate(url, schema=schema)
    with Session(engine) as s:
        row = s.get(T, doc_id)
        assert row is not None
        assert (row.claim_type, row.amount, row.vendor, row.queue) == ("health", 1500.0, None, None)
    engine.dispose()


def test_cli_adds_lists_and_removes_scopes(sqlite_url: str) -> None:
    from typer.testing import CliRunner

    from autoclerk.cli import app as cli

    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as s:
        s.add(ReviewUserRow(username="ana", password_hash="x", role="reviewer"))
        s.commit()
    engine.dispose()
    env = {"AUTOCLERK_DB__URL": sqlite_url}
    run = CliRunner().invoke
    added = run(cli, ["users", "scopes", "add", "--username", "ana", "--kind", "claim", "--amount-min", "100",
                      "--queue", "fraud"], env=env)  # fmt: skip
    assert added.exit_code == 0, added.output
    scope_id = re.search(r"scope (\d+) added", added.output)
    assert scope_id, added.output
    listed = run(cli, ["users", "scopes", "list", "--username", "ana"], env=env)
    assert listed.exit_code == 0 and "kind=claim amount_min=100.0 queue=fraud" in listed.output
    for bad in (["--kind", "memo"], [], ["--all", "--kind", "claim"], ["--queue", "../x"]):
        refused = run(cli, ["users", "scopes", "add", "--username", "ana", *bad], env=env)
        assert refused.exit_code == 2, (bad, refused.output)
    ghost = run(cli, ["users", "scopes", "add", "--username", "ghost", "--all"], env=env)
    assert ghost.exit_code == 1 and "no user" in ghost.output
    removed = run(cli, ["users", "scopes", "remove", "--id", scope_id.group(1)], env=env)
    assert removed.exit_code == 0, removed.output
    assert run(cli, ["users", "scopes", "list"], env=env).output.strip() == ""
    assert run(cli, ["users", "scopes", "remove", "--id", scope_id.group(1)], env=env).exit_code == 1


async def test_the_store_writes_what_scopes_match_on(db: tuple[str, str | None]) -> None:
    """A routed task carries its vendor, amount, claim type and named queue."""
    from datetime import UTC, datetime

    from autoclerk.bootstrap import open_database
    from schemas.document import Document
    from schemas.events import DocumentReceived, Envelope, ReviewRequested
    from schemas.fields import ExtractedField, Extraction
    from schemas.messages import MessageMeta, Outgoing
    from schemas.verdicts import RuleReason, RuleResult, TriageResult

    url, schema = db
    text = "vendor_name: ACME  Corp\ntotal: 1,200.00"
    payload = DocumentReceived(
        document_id=f"d-{uuid.uuid4().hex[:8]}", kind="invoice", text=text, queue="fraud"
    )
    env = Envelope[DocumentReceived](type="document.received", payload=payload)
    fields = {"vendor_name": ExtractedField(value="ACME  Corp", confidence=0.5),
              "total": ExtractedField(value="1200.00", confidence=0.5)}  # fmt: skip
    extraction = Extraction(kind="invoice", fields=fields, model_version="x")
    routed = {
        "triage": TriageResult(model_version="t", predicted_kind="invoice", risk=0.1).model_dump(mode="json"),
        "extraction": extraction.model_dump(mode="json"),
        "rules": RuleResult(rules_version="r", outcome="review").model_dump(mode="json"),
    }
    task = ReviewRequested(
        task_id=f"task-{payload.document_id}", document_id=payload.document_id, kind="invoice",
        queue=payload.queue, reasons=[RuleReason(code="low_confidence", message="m")], priority=50,
        due_at=datetime(2026, 12, 3, tzinfo=UTC), extraction=extraction,
    )  # fmt: skip
    async with open_database(url, schema=schema) as database:
        store = database.store
        doc = Document.from_text(text=text, document_id=payload.document_id, kind="invoice")
        meta = MessageMeta(topic="t.documents.received", partition=0, offset=1, epoch="e")
        await store.admit(meta=meta, raw=env.model_dump_json().encode(), envelope=env, document=doc)
        message = Outgoing("t.review", b"k", b"v")
        await store.save_review_task(
            document_id=payload.document_id, state=routed, task=task, message=message
        )
    engine = make_engine(url, schema=schema)
    with Session(engine) as s:
        row = s.get(T, task.task_id)
        assert row is not None
        assert (row.vendor, row.amount, row.claim_type, row.queue) == ("acme corp", 1200.0, None, "fraud")
    engine.dispose()
