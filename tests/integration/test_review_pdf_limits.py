"""A stored PDF declaring a huge page renders shrunk to the configured pixel cap, and a
page number out of range is a 422, not a render (issue 11, item 3)."""

from __future__ import annotations

import io
import time

from PIL import Image
from sqlalchemy import update
from sqlmodel import Session

from infra.db.engine import make_engine
from infra.db.tables import DocumentRow, ReviewTaskRow
from tests.review_support import client, login, make_settings, review_app, seed_tasks
from tests.unit.test_pdf_limits import HUGE


def _store_pdf(url: str, schema: str | None, task_id: str, data: bytes) -> str:
    engine = make_engine(url, schema=schema)
    with Session(engine) as s:
        task = s.get(ReviewTaskRow, task_id)
        assert task is not None
        s.execute(
            update(DocumentRow)
            .where(DocumentRow.document_id == task.document_id)  # type: ignore[arg-type]
            .values(original_pdf=data)
        )
        s.commit()
        doc_id = task.document_id
    engine.dispose()
    return doc_id


async def test_a_huge_stored_page_renders_within_the_pixel_cap(sqlite_url: str) -> None:
    [task_id] = seed_tasks(sqlite_url, None, n=1)
    doc_id = _store_pdf(sqlite_url, None, task_id, HUGE)
    settings = make_settings("pdf").model_copy(deep=True)
    settings.review.max_page_pixels = 1_000_000
    async with review_app(sqlite_url, None, settings=settings) as (app, _), client(app) as c:
        await login(c, "ana")
        started = time.perf_counter()
        png = await c.get(f"/documents/{doc_id}/pages/0.png")
        took = time.perf_counter() - started
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(png.content)).size
        print(f"\n6000x6000 pt page served as {width}x{height} px in {took:.2f} s")
        assert width * height <= 1_000_000 + 2 * width + 1
        for bad in ("-1", "10000", "99999999999999999999999"):
            r = await c.get(f"/documents/{doc_id}/pages/{bad}.png")
            assert r.status_code == 422, (bad, r.status_code)
