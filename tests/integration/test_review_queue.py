"""The queue as a new user tries it (issue 11, items 9 and 12): blank filters, sorts,
search, counts, a status page for any document, readable reasons and rules trace.
SQLite file and a PostgreSQL schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Session, col

from infra.db.engine import make_engine
from infra.db.tables import (
    DecisionRow,
    DocumentRow,
    ExtractionRow,
    IngestLedger,
    ReviewTaskRow,
    RuleResultRow,
)
from tests.review_support import client, login, review_app, seed_tasks

BLANK = {
    "kind": "",
    "reason": "",
    "stage": "",
    "min_priority": "",
    "min_age_hours": "",
    "assignee": "",
    "q": "",
}
VENDORS = [
    ("Zeta Supplies", "5.00"),
    ("ACME Ltd", "120.00"),
    ("Blue & Co", "37.50"),
    ("acme trading", "9.99"),
]


def _seed(url: str, schema: str | None) -> list[str]:
    """Four invoices with different vendors and totals, two claims; returns document ids."""
    ids = seed_tasks(url, schema, n=4, reason="low_confidence")
    ids += seed_tasks(url, schema, n=2, reason="duplicate_claim", kind="claim")
    engine = make_engine(url, schema=schema)
    docs = []
    with Session(engine) as s:
        for task_id, (vendor, total) in zip(ids, VENDORS, strict=False):
            task = s.get(ReviewTaskRow, task_id)
            assert task is not None
            result = {
                "kind": "invoice",
                "model_version": "x",
                "fields": {
                    "vendor_name": {"value": vendor, "confidence": 0.9},
                    "total": {"value": total, "confidence": 0.9},
                },
            }
            s.execute(
                update(ExtractionRow)
                .where(ExtractionRow.document_id == task.document_id)
                .values(result=result)
            )
        for task_id in ids:
            task = s.get(ReviewTaskRow, task_id)
            assert task is not None
            docs.append(task.document_id)
        s.commit()
    engine.dispose()
    return docs


async def _tasks(c: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await c.get("/api/tasks", params=params)
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_blank_filters_sorts_search_and_counts(db: tuple[str, str | None]) -> None:
    url, schema = db
    docs = _seed(url, schema)
    async with review_app(url, schema) as (app, _), client(app) as c:
        await login(c, "ana")
        # Regression: every blank field of the form was a 422, and htmx put the JSON in the table.
        assert len(await _tasks(c, **BLANK, sort="")) == 6
        page = await c.get("/queue", params=BLANK, headers={"HX-Request": "true"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<strong id="matching">6</strong>' in page.text and "{" not in page.text.split("<table")[0]
        full = await c.get("/queue", params={**BLANK, "kind": "claim"})
        assert full.status_code == 200 and full.text.count('<tr class="') == 2
        bad = await c.get("/queue", params={"min_priority": "lots"}, headers={"HX-Request": "true"})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
        assert "min_priority" in bad.text and '"detail"' not in bad.text

        amounts = [t["amount"] for t in await _tasks(c, kind="invoice", sort="amount")]
        assert amounts == ["120.00", "37.50", "9.99", "5.00"]
        oldest = await _tasks(c, sort="age")
        assert [t["created_at"] for t in oldest] == sorted(t["created_at"] for t in oldest)
        soonest = await _tasks(c, sort="due")
        assert [t["due_at"] for t in soonest] == sorted(t["due_at"] for t in soonest)
        highest = await _tasks(c, sort="priority")
        assert [t["priority"] for t in highest] == sorted((t["priority"] for t in highest), reverse=True)
        assert (await c.get("/api/tasks", params={"sort": "priority; drop table"})).status_code == 422

        acme = await _tasks(c, q="ACME")  # two invoices, and the two claims seeded as ACME Ltd's
        assert len(acme) == 4 and {t["vendor"] for t in acme} == {"ACME Ltd", "acme trading"}
        assert [t["document_id"] for t in await _tasks(c, q=docs[2][:9])] == [docs[2]]
        assert await _tasks(c, q="%") == []  # a LIKE wildcard is searched for, not obeyed

        counts = (await c.get("/api/queue/counts", params={**BLANK, "kind": "claim"})).json()
        assert counts["matching"] == 2
        assert counts["kinds"] == {"invoice": 4, "claim": 2}  # what each kind choice would give
        assert counts["reasons"] == {"duplicate_claim": 2}
        assert counts["stages"] == {"first": 2, "second": 0, "reconcile": 0}


def _add(url: str, schema: str | None, *rows: Any) -> None:
    engine = make_engine(url, schema=schema)
    with Session(engine) as s:
        for row in rows:
            s.add(row)
            s.flush()
        s.commit()
    engine.dispose()


def _doc(document_id: str, status: str) -> DocumentRow:
    return DocumentRow(
        document_id=document_id,
        event_id=f"ev-{document_id}",
        kind="invoice",
        content_hash=f"h-{document_id}",
        text="x",
        source="test",
        status=status,
    )


async def test_status_of_any_document(db: tuple[str, str | None]) -> None:
    url, schema = db
    [in_review] = _seed(url, schema)[:1]
    now = datetime.now(UTC)
    reasons = [{"code": "DUPLICATE_INVOICE", "message": "same as doc-1", "severity": "reject"}]
    _add(
        url,
        schema,
        _doc("doc-straight", "decided"),
        DecisionRow(
            document_id="doc-straight",
            outcome="reject",
            decided_by="auto",
            reasons=reasons,
            fields={},
            model_versions={},
            created_at=now,
        ),
        _doc("doc-busy", "processing"),
        _doc("doc-failed", "processing"),
        IngestLedger(
            topic="documents.received",
            partition=0,
            offset=7,
            content_hash="h",
            document_id="doc-failed",
            status="deadletter",
            detail="workflow failed: boom",
        ),
    )
    async with review_app(url, schema) as (app, _), client(app) as c, client(app) as anon:
        await login(c, "ana")
        states = {
            d: (await c.get(f"/api/documents/{d}")).json()
            for d in ("doc-straight", "doc-busy", "doc-failed", in_review)
        }
        assert {d: s["state"] for d, s in states.items()} == {
            "doc-straight": "decided",
            "doc-busy": "processing",
            "doc-failed": "dead_lettered",
            in_review: "in_review",
        }
        straight = states["doc-straight"]
        assert (
            straight["decided_by"] == "auto" and straight["outcome"] == "reject" and straight["task"] is None
        )
        assert straight["reasons"] == [
            {"code": "DUPLICATE_INVOICE", "label": "Duplicate invoice", "message": "same as doc-1"}
        ]
        assert states["doc-failed"]["dead_letters"][0]["why"] == "workflow failed: boom"
        assert (await c.get("/api/documents/nope")).status_code == 404
        page = await c.get("/documents/doc-straight")
        assert 'data-state="decided"' in page.text and "straight through" in page.text
        assert "Duplicate invoice" in page.text
        looked_up = await c.get("/documents", params={"document_id": " doc-failed "})
        assert looked_up.status_code == 303 and looked_up.headers["location"] == "/documents/doc-failed"
        assert (await anon.get("/api/documents/doc-straight")).status_code == 401
        assert (await anon.get("/documents/doc-straight")).headers["location"] == "/login"


@pytest.mark.parametrize("trace_kind", ["engine", "error"])
async def test_task_page_renders_reasons_and_trace_readably(sqlite_url: str, trace_kind: str) -> None:
    [task_id] = seed_tasks(sqlite_url, None, n=1, reason="total_not_subtotal_plus_tax")
    trace: dict[str, Any] = {
        "engine": {
            "invoice_amounts": {
                "request": {"name": "Request", "order": 0, "traceData": None, "output": {"fields": {}}},
                "derive": {
                    "name": "Totals",
                    "order": 1,
                    "traceData": {"amounts.subtotal_plus_tax": {"result": 119}},
                },
                "amounts": {
                    "name": "Amount consistency",
                    "order": 2,
                    "traceData": [
                        {"index": 0, "reference_map": {"fields.total": 200}, "rule": {"_id": "amounts_r0"}}
                    ],
                    "output": {"reasons": [{"code": "total_not_subtotal_plus_tax", "message": "m"}]},
                },
            }
        },
        "error": {"invoice_amounts": {"error": "boom <b>"}},
    }[trace_kind]
    engine = make_engine(sqlite_url)
    with Session(engine) as s:
        task = s.get(ReviewTaskRow, task_id)
        assert task is not None
        s.execute(
            update(RuleResultRow)
            .where(col(RuleResultRow.document_id) == task.document_id)
            .values(trace=trace)
        )
        s.commit()
    engine.dispose()
    async with review_app(sqlite_url, None) as (app, _), client(app) as c:
        await login(c, "ana")
        page = (await c.get(f"/tasks/{task_id}")).text
    assert "Total differs from subtotal + tax" in page  # the reason's label
    trace_html = page.split('id="rule-trace"')[1].split("</details>")[0]
    assert "<pre" not in trace_html and "traceData" not in trace_html
    if trace_kind == "engine":
        assert 'data-graph="invoice_amounts"' in page and "Amount consistency: matched amounts_r0" in page
        assert (
            "<code>fields.total = 200</code>" in page and "<code>amounts.subtotal_plus_tax</code> 119" in page
        )
        assert "Request" not in trace_html
    else:
        assert "failed: boom &lt;b&gt;" in page


async def test_reject_form_needs_its_kind(sqlite_url: str) -> None:
    [task_id] = seed_tasks(sqlite_url, None, n=1)
    async with review_app(sqlite_url, None) as (app, engine), client(app) as c:
        csrf = await login(c, "ana")
        await c.post("/next", data={"csrf_token": csrf})
        page = (await c.get(f"/tasks/{task_id}")).text
        assert 'name="reject_kind" value="business"' in page and 'name="reject_kind" value="fields"' in page
        hx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        unsaid = await c.post(
            f"/tasks/{task_id}/complete", headers=hx, data={"outcome": "reject", "reason": "no"}
        )
        assert unsaid.status_code == 422 and "reject_kind" in unsaid.text
        done = await c.post(
            f"/tasks/{task_id}/complete",
            headers=hx,
            data={"outcome": "reject", "reason": "no", "reject_kind": "fields"},
        )
        assert done.status_code == 200 and "data wrong" in done.text
        async with async_sessionmaker(engine)() as s:
            task = await s.get(ReviewTaskRow, task_id)
            assert task is not None
        assert (await c.get(f"/api/documents/{task.document_id}")).json()["task"]["submitted"] == "reject"


def test_migration_0013_lowercases_stored_reason_codes(sqlite_url: str) -> None:
    """Tasks stored before the vocabulary was one (upper-case codes from the graphs)."""
    from sqlalchemy import text

    from infra.db.engine import migrate

    migrate(sqlite_url, revision="0009")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (document_id, event_id, kind, content_hash, text, layout, source,"
                " status, received_at) VALUES ('d1', 'e1', 'invoice', 'h', 'x', '[]', 't', 'review',"
                " '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO review_tasks (task_id, document_id, kind, status, priority, due_at, reasons,"
                " primary_reason, created_at) VALUES ('t1', 'd1', 'invoice', 'open', 50,"
                " '2026-01-01 00:00:00', '[]', 'LOW_CONFIDENCE', '2026-01-01 00:00:00')"
            )
        )
    migrate(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT primary_reason FROM review_tasks")).scalar_one() == "low_confidence"
    engine.dispose()
