"""The task page's view of fields and lines: what is flagged, how a typed value is
read, and the order a reviewer reads a document's lines in."""

from __future__ import annotations

import pytest

from infra.db.tables import DocumentRow
from review.errors import InvalidValue
from review.evidence import DocLine, document_lines, reading_order
from review.tasks import _fields, typed_value


def _line(i: int, text: str, box: tuple[float, float, float, float], page: int = 0) -> DocLine:
    return DocLine(index=i, text=text, page=page, bbox=box)


def test_reading_order_is_top_to_bottom_then_left_to_right_with_rows_tolerant_of_jitter() -> None:
    lines = [
        _line(0, "12.50", (200, 81, 260, 95)),
        _line(1, "TOTAL", (10, 80, 80, 94)),
        _line(2, "SHOP", (10, 10, 200, 24)),
        _line(3, "page two", (10, 5, 90, 20), page=1),
        _line(4, "28/04/2018", (10, 40, 150, 54)),
        _line(5, "THANK YOU", (10, 96, 150, 110)),  # its centre is below TOTAL's row
    ]
    assert [ln.text for ln in reading_order(lines)] == [
        "SHOP",
        "28/04/2018",
        "TOTAL",
        "12.50",
        "THANK YOU",
        "page two",
    ]


def _doc(text: str, layout: list[dict[str, object]]) -> DocumentRow:
    return DocumentRow(
        document_id="d", event_id="e", kind="invoice", content_hash="h", text=text, layout=layout, source="t"
    )


def test_document_lines_keep_their_index_in_the_text_whatever_order_they_are_shown_in() -> None:
    boxed = _doc("B\nA", [{"text": "B", "bbox": [0, 50, 10, 60]}, {"text": "A", "bbox": [0, 0, 10, 10]}])
    assert [(ln.index, ln.text) for ln in document_lines(boxed)] == [(1, "A"), (0, "B")]
    plain = _doc("INVOICE\nACME\nTotal 12.50", [])
    assert [(ln.index, ln.text) for ln in document_lines(plain)] == [
        (0, "INVOICE"),
        (1, "ACME"),
        (2, "Total 12.50"),
    ]


def test_low_is_for_values_read_under_the_threshold_and_missing_for_required_empty_fields() -> None:
    stored = {
        "fields": {
            "vendor_name": {"value": "ACME", "confidence": 0.95},
            "total": {"value": "12.50", "raw": "RM 12.50", "confidence": 0.4, "source": {"line": 2}},
            "due_date": {"value": None, "confidence": 0.1},
        }
    }
    fields = {f.name: f for f in _fields("invoice", stored, 0.9, variant="invoice")}
    assert {n for n, f in fields.items() if f.low} == {"total"}
    assert {n for n, f in fields.items() if f.missing} == {"invoice_number", "issue_date"}
    assert fields["total"].raw == "RM 12.50" and fields["total"].shape == "amount"
    assert fields["total"].source is not None and fields["total"].source.line == 2
    receipt = {f.name for f in _fields("invoice", stored, 0.9, variant="receipt") if f.missing}
    assert receipt == {"issue_date"}  # till receipts carry no invoice number
    health = {f.name for f in _fields("claim", {}, 0.9, variant="health") if f.missing}
    assert "diagnosis_codes" in health and "vin" not in health


@pytest.mark.parametrize(
    ("field", "typed", "stored"),
    [
        ("issue_date", "20180428", "2018-04-28"),
        ("issue_date", "28/04/2018", "2018-04-28"),
        ("total", "RM 1,234.5", "1234.50"),
        ("currency", "$", "USD"),
        ("vendor_name", "  ACME  Ltd ", "ACME Ltd"),
        ("total", "   ", None),
    ],
)
def test_a_typed_value_is_stored_in_its_fields_one_spelling(
    field: str, typed: str, stored: str | None
) -> None:
    assert typed_value(field, typed) == stored


@pytest.mark.parametrize(
    ("field", "typed"), [("issue_date", "2018-13-45"), ("total", "twelve"), ("currency", "XX")]
)
def test_a_typed_value_of_the_wrong_shape_is_refused_naming_its_field(field: str, typed: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        typed_value(field, typed)
    assert caught.value.field == field and repr(typed) in caught.value.reason
