"""Page images of a received PDF, so a reviewer sees the document as it was sent."""

from __future__ import annotations

import asyncio
import io

import pypdfium2
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db.tables import DocumentRow
from review.errors import NotFound
from review.scopes import Visibility, check_document

# 1.5 times 72 dpi: readable on a laptop screen without shipping megabytes per page.
SCALE = 1.5


def render_page(pdf: bytes, page: int) -> bytes:
    doc = pypdfium2.PdfDocument(pdf)
    try:
        if not 0 <= page < len(doc):
            raise NotFound(f"no page {page + 1} (the document has {len(doc)})")
        image = doc[page].render(scale=SCALE).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue()
    finally:
        doc.close()


async def page_png(s: AsyncSession, *, document_id: str, page: int, seen: Visibility) -> bytes:
    await check_document(s, document_id=document_id, seen=seen)
    doc = await s.get(DocumentRow, document_id)
    if doc is None or doc.original_pdf is None:
        raise NotFound(f"document {document_id} has no PDF")
    # Rendering is CPU work of tens of milliseconds: off the event loop.
    return await asyncio.to_thread(render_page, doc.original_pdf, page)
