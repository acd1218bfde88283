"""Where a value came from: the document's lines as the reviewer reads them.

An extracted field's `FieldSource.line` counts lines of the document text as the
extractor saw it (`infra.feedback_source.document_from_row` rebuilds that document).
The task page lists those lines in reading order, each keeping its index, so the page
can highlight a field's source line and a click on a line can fill a field.
"""

from __future__ import annotations

from pydantic import BaseModel

from infra.db.tables import DocumentRow
from infra.feedback_source import document_from_row

Box = tuple[float, float, float, float]


class DocLine(BaseModel):
    index: int  # position in the document text: what `FieldSource.line` counts
    text: str
    page: int = 0
    bbox: Box | None = None  # x0, top, x1, bottom in page units (`documents.pages`)


def document_lines(doc: DocumentRow) -> list[DocLine]:
    """Every line of `doc`, in reading order when all lines with text have boxes
    (OCR'd receipts, PDFs), else in the order of the text."""
    lines = [
        DocLine(index=i, text=ln.text, page=ln.page, bbox=ln.bbox)
        for i, ln in enumerate(document_from_row(doc).lines)
    ]
    if not lines or any(ln.bbox is None for ln in lines if ln.text.strip()):
        return lines
    return reading_order([ln for ln in lines if ln.bbox is not None])


def reading_order(lines: list[DocLine]) -> list[DocLine]:
    """Top to bottom, then left to right: boxes are sorted by top, and a box whose
    vertical centre lies above the bottom of the row before joins that row, which is
    then read by left edge (OCR gives a receipt's "TOTAL  12.50" as two boxes whose
    tops differ by a pixel or two)."""
    rows: list[list[DocLine]] = []
    for ln in sorted(lines, key=lambda ln: (ln.page, _box(ln)[1], _box(ln)[0])):
        row = rows[-1] if rows else None
        box = _box(ln)
        if row and row[0].page == ln.page and (box[1] + box[3]) / 2 < max(_box(r)[3] for r in row):
            row.append(ln)
        else:
            rows.append([ln])
    return [ln for row in rows for ln in sorted(row, key=lambda ln: _box(ln)[0])]


def _box(ln: DocLine) -> Box:
    assert ln.bbox is not None  # reading_order is only given boxed lines
    return ln.bbox
