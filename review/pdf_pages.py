"""Page images of a received PDF, so a reviewer sees the document as it was sent.

A PDF of a few hundred bytes can declare a 6000 x 6000 pt page, which at our scale
once took 2.4 s and 540 MB to render. So rendering is bounded three ways: a document
with more pages than the ingest limit is refused, a page is rendered at a smaller
scale when it would exceed `max_pixels`, and at most `concurrency` pages render at
once, in worker threads, off the event loop. A slot is held until its thread ends,
even when the request that asked for it has gone.
"""

from __future__ import annotations

import asyncio
import functools
import io
import math
from dataclasses import dataclass

import pypdfium2
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db.tables import DocumentRow
from review.errors import Invalid, NotFound
from review.scopes import Visibility, check_document

# 1.5 times 72 dpi: readable on a laptop screen without shipping megabytes per page.
SCALE = 1.5


@dataclass(frozen=True)
class RenderLimits:
    max_pages: int = 50
    """Pages per document (`limits.max_pdf_pages`: the worker refuses longer ones)."""
    max_pixels: int = 4_000_000
    """Pixels per page image (`review.max_page_pixels`); A4 at SCALE is about 1.1 million."""


def render_page(pdf: bytes, page: int, limits: RenderLimits = RenderLimits()) -> bytes:
    doc = pypdfium2.PdfDocument(pdf)
    try:
        pages = len(doc)
        if pages > limits.max_pages:
            raise Invalid(f"the document has {pages} pages, over the limit of {limits.max_pages}")
        if not 0 <= page < pages:
            raise NotFound(f"no page {page + 1} (the document has {pages})")
        pdf_page = doc[page]
        image = pdf_page.render(scale=page_scale(*pdf_page.get_size(), limits=limits)).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue()
    finally:
        doc.close()


def page_scale(width: float, height: float, *, limits: RenderLimits) -> float:
    """SCALE, or less so that the image stays within `limits.max_pixels`."""
    area = abs(width * height)
    if area * SCALE * SCALE <= limits.max_pixels:
        return SCALE
    return math.sqrt(limits.max_pixels / area)


class PageRenderer:
    """Renders pages in threads, at most `concurrency` at a time. Built per app (the
    semaphore belongs to the app's event loop), never at import."""

    def __init__(self, *, limits: RenderLimits = RenderLimits(), concurrency: int = 2) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(concurrency)

    async def png(self, pdf: bytes, page: int) -> bytes:
        await self._slots.acquire()
        try:
            job = asyncio.get_running_loop().run_in_executor(
                None, functools.partial(render_page, pdf, page, self.limits)
            )
        except BaseException:
            self._slots.release()
            raise
        job.add_done_callback(self._done)
        # A cancelled request does not stop the thread; the slot is freed when it ends.
        return await asyncio.shield(job)

    def _done(self, job: asyncio.Future[bytes]) -> None:
        self._slots.release()
        if not job.cancelled():
            job.exception()  # retrieved here too: a request that went away must not log it


async def page_png(
    s: AsyncSession, *, document_id: str, page: int, seen: Visibility, renderer: PageRenderer | None = None
) -> bytes:
    await check_document(s, document_id=document_id, seen=seen)
    doc = await s.get(DocumentRow, document_id)
    if doc is None or doc.original_pdf is None:
        raise NotFound(f"document {document_id} has no PDF")
    return await (renderer or PageRenderer()).png(doc.original_pdf, page)
