"""A PDF document's pages are shown to the reviewer as images, rendered from the
bytes the worker stored; text stays alongside."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session

from infra.db.engine import make_engine
from infra.db.tables import DocumentRow, ReviewTaskRow
from infra.pdf import parse_pdf
from tests.review_support import client, login, review_app, seed_tasks

PDF = Path(__file__).resolve().parents[2] / "data" / "invoices" / "AmazonWebServices.pdf"


def _attach_pdf(url: str, schema: str | None, task_id: str) -> str:
    data = PDF.read_bytes()
    lines, _ = parse_pdf(data=data)
    engine = make_engine(url, schema=schema)
    with Session(engine) as s:
        task = s.get(ReviewTaskRow, task_id)
        assert task is not None
        s.execute(
            update(DocumentRow)
            .where(DocumentRow.document_id == task.document_id)  # type: ignore[arg-type]
            .values(original_pdf=data, layout=[ln.model_dump(mode="json") for ln in lines])
        )
        s.commit()
        doc_id = task.document_id
    engine.dispose()
    return doc_id


async def test_task_page_shows_pdf_pages_as_images(db: tuple[str, str | None]) -> None:
    url, schema = db
    [task_id] = seed_tasks(url, schema, n=1)
    doc_id = _attach_pdf(url, schema, task_id)
    async with review_app(url, schema) as (app, _), client(app) as c:
        anonymous = await c.get(f"/documents/{doc_id}/pages/0.png")
        assert anonymous.status_code in (303, 401)
        await login(c, "ana")
        page = await c.get(f"/tasks/{task_id}")
        assert f'src="/documents/{doc_id}/pages/0.png"' in page.text
        png = await c.get(f"/documents/{doc_id}/pages/0.png")
        assert png.status_code == 200
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 10_000
        missing = await c.get(f"/documents/{doc_id}/pages/99.png")
        assert missing.status_code == 404
