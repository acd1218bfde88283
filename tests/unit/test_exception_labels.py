"""Exception labels for triage from out-of-fold extraction (feedback.exceptions)."""

from __future__ import annotations

from feedback.exceptions import LABEL, label_exceptions
from schemas.document import LabelledDocument, Line
from schemas.fields import ExtractedField, Extraction

MANDATORY = {"invoice": ("vendor_name", "total")}


def _doc(doc_id: str, **meta: str) -> LabelledDocument:
    return LabelledDocument(
        document_id=doc_id,
        kind="invoice",
        lines=[Line(text="ACME")],
        gold={"vendor_name": "ACME", "total": "10.00", "vendor_address": "1 Road"},
        metadata=dict(meta),
    )


def _pred(vendor: str | None, total: str | None, *, failure: str | None = None) -> Extraction:
    fields = {"vendor_name": ExtractedField(value=vendor, confidence=0.9),
              "total": ExtractedField(value=total, confidence=0.9),
              "vendor_address": ExtractedField(value="elsewhere", confidence=0.2)}  # fmt: skip
    return Extraction(kind="invoice", fields=fields, model_version="fold-1", failure=failure)


def test_labels_follow_mandatory_fields_only_and_failures() -> None:
    docs = [_doc("right"), _doc("wrong"), _doc("failed"), _doc("case")]
    preds = {
        "right": _pred("ACME", "10.00"),  # a wrong optional address does not need a person
        "wrong": _pred("ACME", "19.00"),
        "failed": _pred("ACME", "10.00", failure="llm_refused"),
        "case": _pred("acme", "10.00"),  # compared as the metric compares: case and spaces ignored
    }
    labelled = {d.document_id: d.metadata for d in label_exceptions(documents=docs, predictions=preds,
                                                                    mandatory=MANDATORY)}  # fmt: skip
    assert {k: v[LABEL] for k, v in labelled.items()} == {
        "right": "false",
        "wrong": "true",
        "failed": "true",
        "case": "false",
    }
    assert labelled["wrong"]["needs_review_source"] == "out-of-fold fold-1"


def test_reviewers_history_wins_and_unpredicted_documents_stay_unlabelled() -> None:
    docs = [_doc("reviewed", needs_review="false"), _doc("unseen")]
    out = label_exceptions(documents=docs, predictions={"reviewed": _pred("X", "1.00")}, mandatory=MANDATORY)
    assert out[0].metadata == {"needs_review": "false"}
    assert LABEL not in out[1].metadata
