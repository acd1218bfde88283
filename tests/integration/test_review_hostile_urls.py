"""Ids in URLs: every id the pages put into a URL is percent-encoded, so a stored id such
as `spoof/../other` (stored before ingest refused such ids, or inserted directly) stays
one path segment and never resolves to another document's page images; hostile ids
sent in URLs answer 404, never 500."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import update
from sqlmodel import Session

from infra.db.engine import make_engine
from infra.db.tables import DocumentRow, ReviewTaskRow
from infra.pdf import parse_pdf
from tests.review_support import client, csrf_of, login, make_settings, review_app, seed_tasks

PDF = Path(__file__).resolve().parents[2] / "data" / "invoices" / "AmazonWebServices.pdf"
HOSTILE_DOC = "spoof/../{other}"
ODD_TASK = "odd ?#task"


def _hostile_world(url: str, schema: str | None) -> tuple[str, str]:
    """`other` (a PDF, its own task), and a task `odd ?#task` whose stored document id is
    `spoof/../other`, with a PDF too. Returns (other doc, other task)."""
    [other_task] = seed_tasks(url, schema, n=1)
    data = PDF.read_bytes()
    layout = [ln.model_dump(mode="json") for ln in parse_pdf(data=data)[0]]
    now = datetime.now(UTC)
    engine = make_engine(url, schema=schema)
    with Session(engine) as s:
        other = s.get(ReviewTaskRow, other_task)
        assert other is not None
        other_doc = other.document_id
        hostile = HOSTILE_DOC.format(other=other_doc)
        s.execute(
            update(DocumentRow)
            .where(DocumentRow.document_id == other_doc)  # type: ignore[arg-type]
            .values(original_pdf=data, layout=layout)
        )
        s.add(
            DocumentRow(
                document_id=hostile, event_id=str(uuid.uuid4()), kind="invoice", content_hash="h",
                text="spoof", layout=layout, original_pdf=data, source="test", status="review",
            )
        )  # fmt: skip
        s.flush()
        s.add(
            ReviewTaskRow(
                task_id=ODD_TASK, document_id=hostile, kind="invoice", priority=10, due_at=now,
                reasons=[], primary_reason="low_confidence", vendor="spoof",
            )
        )  # fmt: skip
        s.commit()
    engine.dispose()
    return other_doc, other_task


async def test_a_stored_hostile_id_cannot_reach_another_documents_pdf(db: tuple[str, str | None]) -> None:
    url, schema = db
    other_doc, other_task = _hostile_world(url, schema)
    settings = make_settings(reviewers_see_all=False)
    async with (
        review_app(url, schema, settings=settings) as (app, _),
        client(app) as lead,
        client(app) as ana,
    ):
        csrf = await login(lead, "lee")
        r = await lead.post("/api/users/ana/scopes", json={"vendor": "spoof"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201
        await login(ana, "ana")
        page = await ana.get("/tasks/odd%20%3F%23task")
        assert page.status_code == 200, page.text
        srcs = re.findall(r'src="(/documents/[^"]+)"', page.text)
        assert srcs and all(s.startswith("/documents/spoof%2F..%2F") for s in srcs), srcs
        assert 'action="/tasks/odd%20%3F%23task/claim"' in page.text
        # The encoded URL stays one segment: it names no route, and surely not `other`.
        for src in srcs:
            assert (await ana.get(src)).status_code == 404
        # What a browser would have made of the unencoded URL: out of ana's scope.
        assert (await ana.get(f"/documents/{other_doc}/pages/0.png")).status_code == 404
        assert (await ana.get(f"/tasks/{other_task}")).status_code == 404
        # Redirects encode the id too.
        claimed = await ana.post("/tasks/odd%20%3F%23task/claim", headers={"X-CSRF-Token": await _csrf(ana)})
        assert claimed.status_code == 303 and claimed.headers["location"] == "/tasks/odd%20%3F%23task"


async def _csrf(c: httpx.AsyncClient) -> str:
    return csrf_of((await c.get("/queue")).text)


async def test_hostile_ids_in_urls_answer_404(sqlite_url: str) -> None:
    seed_tasks(sqlite_url, None, n=1)
    async with review_app(sqlite_url, None) as (app, _), client(app) as lead:
        csrf = await login(lead, "lee")
        for raw in [
            "a%2F..%2Fb",
            "..%2F..%2Fetc%2Fpasswd",
            "%2E%2E",
            "%C3%A9t%C3%A9",
            "%E6%96%87%E6%9B%B8",
            "%00",
            "x" * 5000,
            "%25",
        ]:
            # NUL is refused as invalid input (422) by the request guard before routing.
            expected = {422} if raw == "%00" else {404}
            for path in (f"/api/tasks/{raw}", f"/api/documents/{raw}/audit", f"/tasks/{raw}"):
                r = await lead.get(path)
                assert r.status_code in expected, (path, r.status_code)
            r = await lead.get(f"/documents/{raw}/pages/0.png")
            assert r.status_code in expected, raw
            r = await lead.post(f"/api/tasks/{raw}/claim", headers={"X-CSRF-Token": csrf})
            assert r.status_code in expected, raw
