"""PDF bytes to the text lines every workflow stage reads.

pdfplumber (on pdfminer.six) gives characters with positions; its line clustering
groups them into rows by vertical position, and we keep each row's box so
layout-aware extractors and reviewers can point at evidence. Boxes are PDF points
from the page's top-left corner: (x0, top, x1, bottom).

Only PDFs with a text layer are handled here. Scans need OCR, which is a different
adapter; they are reported as `PdfUnreadable(reason="no_text")` so the caller can
route them rather than pass an empty document downstream.

Parsing is CPU-bound and synchronous: async callers should run it in a thread.
"""

from __future__ import annotations

import io
from typing import Any

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

from infra.errors import PdfUnreadable
from schemas.document import Document, Line, PageSize, content_hash
from schemas.fields import ClaimType, DocumentKind

# Characters whose tops differ by less than this (points) share a row; 3 is
# pdfplumber's default and keeps superscripts and baseline jitter on their line.
_ROW_TOLERANCE = 3.0


# A0 is 2384 x 3370 points (8.0 million square points); the shipped invoices are A4/Letter.
MAX_PAGE_AREA = 10_000_000.0


def parse_pdf(
    *, data: bytes, max_pages: int = 50, max_page_area: float = MAX_PAGE_AREA
) -> tuple[list[Line], list[PageSize]]:
    """Text rows of every page, in reading order (top to bottom per page).

    Raises `PdfUnreadable` for bytes that are not a PDF (or are damaged beyond what
    pdfminer tolerates), encrypted PDFs that need a password, PDFs longer than
    `max_pages`, pages larger than `max_page_area` square points (a few hundred bytes
    can declare a page that takes gigabytes to render: refused before any line is
    read), and PDFs without any extractable text.
    """
    if b"%PDF-" not in data[:1024]:
        # The spec lets the header sit anywhere in the first 1024 bytes. Checking it
        # first is cheaper than letting pdfminer hunt for a trailer, and clearer.
        raise PdfUnreadable("not_pdf", "no %PDF header")
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            if len(pdf.pages) > max_pages:
                raise PdfUnreadable("too_many_pages", f"{len(pdf.pages)} pages, limit {max_pages}")
            lines: list[Line] = []
            sizes: list[PageSize] = []
            for index, page in enumerate(pdf.pages):
                _check_area(page, index, max_page_area)
                sizes.append(PageSize(width=float(page.width), height=float(page.height)))
                lines.extend(_page_lines(page, index))
    except PdfUnreadable:
        raise
    except Exception as exc:  # untrusted bytes can make pdfminer raise anything
        raise _classify(exc) from exc
    if not lines:
        raise PdfUnreadable("no_text", f"{len(sizes)} page(s) without a text layer (a scan?)")
    return lines, sizes


def document_from_pdf(
    *,
    data: bytes,
    kind: DocumentKind,
    document_id: str | None = None,
    claim_type: ClaimType | None = None,
    metadata: dict[str, str] | None = None,
    max_pages: int = 50,
    max_page_area: float = MAX_PAGE_AREA,
) -> Document:
    """A `Document` from PDF bytes; the id defaults to the content hash so the same
    file always gets the same id (duplicate detection, idempotent stages)."""
    lines, pages = parse_pdf(data=data, max_pages=max_pages, max_page_area=max_page_area)
    return Document(
        document_id=document_id or content_hash(data),
        kind=kind,
        claim_type=claim_type,
        lines=lines,
        pages=pages,
        metadata={"source_format": "pdf", **(metadata or {})},
    )


def _check_area(page: Any, index: int, max_area: float) -> None:
    width, height = abs(float(page.width)), abs(float(page.height))
    if width * height > max_area:
        raise PdfUnreadable(
            "page_too_large",
            f"page {index + 1} is {width:.0f} x {height:.0f} pt, over {max_area:.0f} square points",
        )


def _page_lines(page: Any, index: int) -> list[Line]:
    rows = page.extract_text_lines(layout=False, strip=True, return_chars=False, y_tolerance=_ROW_TOLERANCE)
    return [
        Line(
            text=row["text"],
            page=index,
            bbox=(
                float(row["x0"]),
                float(row["top"]),
                float(row["x1"]),
                float(row["bottom"]),
            ),
        )
        for row in rows
        if row["text"].strip()
    ]


def _classify(exc: Exception) -> PdfUnreadable:
    # pdfplumber wraps pdfminer's errors; the original is its first argument.
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
        return PdfUnreadable("encrypted", "password required")
    return PdfUnreadable("not_pdf", f"{type(cause).__name__}: {cause}".rstrip(": "))
