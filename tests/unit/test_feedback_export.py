"""Reviewed document → labelled document: corrections applied, the rest confirmed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedback.datasets import declared_split, load_labelled_jsonl, write_labelled_jsonl
from feedback.errors import ExportError
from feedback.evaluation import EvalReport
from feedback.export import corrections_against, labelled_from_review, merge_documents, reviewed_value
from feedback.promotion import gate
from infra.db.tables import DocumentRow
from infra.feedback_source import document_from_row
from schemas.document import Document, LabelledDocument, Line, PageSize
from schemas.events import FieldCorrection
from schemas.feedback import ReviewedDocument
from schemas.fields import ExtractedField, Extraction, field_names

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _reviewed(*corrections: FieldCorrection, kind: str = "invoice") -> ReviewedDocument:
    extraction = Extraction(
        kind=kind,  # type: ignore[arg-type]
        model_version="local-v8-abc",
        fields={
            "vendor_name": ExtractedField(value="ACME", confidence=0.95),
            "issue_date": ExtractedField(value="2024-01-02", confidence=0.6),
            "total": ExtractedField(value="10.00", confidence=0.4),
        },
    )
    document = Document.from_text(
        document_id="doc-1", kind="invoice", text="ACME Ltd\n02/01/2024\nTotal 12.50"
    )
    return ReviewedDocument(
        document=document,
        extraction=extraction,
        corrections=list(corrections),
        task_id="task-1",
        reviewer="ann",
        outcome="approve",
        reviewed_at=WHEN,
    )


def test_corrected_confirmed_added_and_cleared_fields() -> None:
    labelled = labelled_from_review(
        reviewed=_reviewed(
            FieldCorrection(field="vendor_name", old_value="ACME", new_value="ACME Ltd", old_confidence=0.95),
            FieldCorrection(field="invoice_number", old_value=None, new_value="INV-7"),
            FieldCorrection(field="total", old_value="10.00", new_value=None, old_confidence=0.4),
        )
    )
    assert labelled.gold["vendor_name"] == "ACME Ltd"  # corrected
    assert labelled.gold["issue_date"] == "2024-01-02"  # left unchanged: confirmed
    assert labelled.gold["invoice_number"] == "INV-7"  # the model missed it, the reviewer added it
    assert labelled.gold["total"] is None  # the reviewer cleared it: absent
    # every field of the kind is labelled; the ones nobody filled are confirmed absent
    assert set(labelled.gold) == set(field_names("invoice"))
    assert labelled.gold["due_date"] is None
    assert labelled.lines == _reviewed().document.lines
    assert labelled.split == declared_split("doc-1")
    p = labelled.provenance
    assert p is not None
    assert (p.source, p.reviewer, p.reviewed_at, p.task_id) == ("review", "ann", WHEN, "task-1")
    assert p.model_version == "local-v8-abc"
    assert p.corrected == ["invoice_number", "total", "vendor_name"]


def test_reviewer_values_take_the_training_spelling() -> None:
    labelled = labelled_from_review(
        reviewed=_reviewed(
            FieldCorrection(field="total", old_value="10.00", new_value=" RM 1,234.5 "),
            FieldCorrection(field="issue_date", old_value="2024-01-02", new_value="03/02/2024"),
        )
    )
    assert labelled.gold["total"] == "1234.50"
    assert labelled.gold["issue_date"] == "2024-02-03"  # day first, as the normaliser reads
    # what no normaliser reads stays as the reviewer typed it
    assert reviewed_value(field="total", typed="see attachment") == "see attachment"
    assert reviewed_value(field="total", typed="   ") is None


def test_an_extraction_of_another_kind_is_refused() -> None:
    with pytest.raises(ExportError, match="doc-1"):
        labelled_from_review(reviewed=_reviewed(kind="claim"))


def test_corrections_against_gold_change_only_wrong_fields() -> None:
    reviewed = _reviewed()
    fixes = corrections_against(
        extraction=reviewed.extraction,
        gold={"vendor_name": "acme", "issue_date": "2024-01-03", "total": None},
        fields=["vendor_name", "issue_date", "total"],
    )
    assert [(c.field, c.old_value, c.new_value) for c in fixes] == [
        ("issue_date", "2024-01-02", "2024-01-03"),
        ("total", "10.00", None),
    ]


def test_provenance_round_trips_and_curated_documents_serialise_as_before(tmp_path: Path) -> None:
    labelled = labelled_from_review(reviewed=_reviewed())
    curated = LabelledDocument(
        document_id="sroie-x", kind="invoice", lines=[Line(text="a")], gold={"total": "1"}
    )
    write_labelled_jsonl([labelled, curated], tmp_path / "x.jsonl")
    back = load_labelled_jsonl(tmp_path / "x.jsonl")
    assert back[0] == labelled
    assert back[1].provenance is None
    # no provenance key: training-data hashes of curated sets are unchanged
    assert "provenance" not in curated.model_dump_json()


def test_merge_lets_the_later_label_win() -> None:
    a = LabelledDocument(document_id="d", kind="invoice", lines=[], gold={"total": "1.00"})
    b = a.model_copy(update={"gold": {"total": "2.00"}})
    c = LabelledDocument(document_id="e", kind="invoice", lines=[], gold={})
    merged = merge_documents([a, c], [b])
    assert {d.document_id: d.gold for d in merged} == {"d": {"total": "2.00"}, "e": {}}


def test_stored_document_rebuilds_lines_boxes_and_pages() -> None:
    boxed = Line(text="ACME", bbox=(1.0, 2.0, 3.0, 4.0))
    original = Document(
        document_id="d",
        kind="invoice",
        lines=[
            Line(text="header"),
            boxed,
            Line(text=""),
            Line(text="ACME", page=1, bbox=(5.0, 6.0, 7.0, 8.0)),
        ],
        pages=[PageSize(width=100, height=200)],
        metadata={"subtype": "receipt"},
    )
    row = DocumentRow(
        document_id="d",
        event_id="e",
        kind="invoice",
        content_hash="h",
        text=original.text,
        layout=[ln.model_dump(mode="json") for ln in original.lines if ln.bbox is not None],
        pages=[p.model_dump(mode="json") for p in original.pages],
        doc_metadata=original.metadata,
        source="test",
    )
    assert document_from_row(row) == original


def _report(accuracy: float) -> EvalReport:
    return EvalReport(
        kind="invoice",
        documents=100,
        fields={},
        document_accuracy=accuracy,
        ece=0.0,
        calibration=[],
        target_error=0.01,
        straight_through_rate=0.0,
        straight_through_threshold=None,
        straight_through_error=0.0,
    )


def test_gate_promotes_within_tolerance_and_refuses_worse_unless_forced() -> None:
    current = {"invoice": _report(0.80)}
    assert gate(candidate={"invoice": _report(0.797)}, current=current, tolerance=0.005).promote
    refused = gate(candidate={"invoice": _report(0.70)}, current=current, tolerance=0.005)
    assert not refused.promote and "invoice 0.700 < 0.800" in refused.reason
    forced = gate(candidate={"invoice": _report(0.70)}, current=current, force=True)
    assert forced.promote and forced.reason.startswith("forced")
    assert gate(candidate={"invoice": _report(0.1)}, current=None).promote
    # a kind the current model has no report for counts as 0: a new kind cannot be "worse"
    assert gate(candidate={"invoice": _report(0.8), "claim": _report(0.5)}, current=current).promote


def _answered(outcome: str, reject_kind: str | None, *corrections: FieldCorrection) -> ReviewedDocument:
    return _reviewed(*corrections).model_copy(update={"outcome": outcome, "reject_kind": reject_kind})


def test_a_reject_for_wrong_data_exports_only_the_corrected_fields() -> None:
    """Regression: a rejected document's unchecked fields were exported as gold."""
    fix = FieldCorrection(field="total", old_value="10.00", new_value="12.50", old_confidence=0.4)
    labelled = labelled_from_review(reviewed=_answered("reject", "fields", fix))
    assert labelled.gold == {"total": "12.50"}  # vendor_name, issue_date: nobody vouched for them
    assert labelled.provenance is not None and labelled.provenance.reject_kind == "fields"
    assert labelled.metadata["needs_review"] == "true"
    # nothing corrected: nothing is gold (the document still says a person had to step in)
    assert labelled_from_review(reviewed=_answered("reject", "fields")).gold == {}


def test_a_reject_of_the_business_case_confirms_every_field() -> None:
    labelled = labelled_from_review(reviewed=_answered("reject", "business"))
    assert set(labelled.gold) == set(field_names("invoice"))
    assert labelled.gold["vendor_name"] == "ACME" and labelled.gold["due_date"] is None


@pytest.mark.parametrize(("outcome", "kind"), [("reject", None), ("request_info", None)])
def test_answers_that_vouch_for_nothing_export_only_corrections(outcome: str, kind: str | None) -> None:
    """A reject from before reject_kind existed, and a request for information."""
    fix = FieldCorrection(field="vendor_name", old_value="ACME", new_value="ACME Ltd")
    assert labelled_from_review(reviewed=_answered(outcome, kind, fix)).gold == {"vendor_name": "ACME Ltd"}
