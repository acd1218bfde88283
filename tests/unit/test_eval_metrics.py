"""Evaluation metrics on hand-computed cases."""

from __future__ import annotations

import pytest

from feedback.errors import EvaluationError
from feedback.evaluation import evaluate, expected_calibration_error, straight_through
from schemas.document import LabelledDocument, Line
from schemas.fields import ExtractedField, Extraction


def _doc(doc_id: str, **gold: str | None) -> LabelledDocument:
    return LabelledDocument(document_id=doc_id, kind="invoice", lines=[Line(text="x")], gold=gold)


def _pred(**fields: tuple[str | None, float]) -> Extraction:
    return Extraction(
        kind="invoice",
        model_version="m1",
        fields={k: ExtractedField(value=v, confidence=c) for k, (v, c) in fields.items()},
    )


GOLD = [
    _doc("a", total="10.00", vendor_name="ACME"),
    _doc("b", total="5.00", vendor_name=None),
    _doc("c", total="7.00", vendor_name="Beta Co"),
    _doc("d", total="1.00", vendor_name="Gamma"),
]
PREDS = {
    "a": _pred(total=("10.00", 0.9), vendor_name=("acme ", 0.8)),  # both right (case, spaces)
    "b": _pred(total=("5.00", 0.95), vendor_name=("Shop", 0.3)),  # false positive name
    "c": _pred(total=("8.00", 0.6), vendor_name=(None, 0.2)),  # wrong total, missed name
    "d": _pred(total=("1.00", 0.99), vendor_name=("GAMMA", 0.97)),
}


def test_field_metrics_by_hand() -> None:
    report = evaluate(predictions=PREDS, gold=GOLD, kind="invoice")
    total, name = report.fields["total"], report.fields["vendor_name"]
    assert total.accuracy == 0.75
    assert (total.precision, total.recall) == (0.75, 0.75)
    # name: TP = a, d; predicted = a, b, d; support = a, c, d
    assert name.accuracy == 0.5
    assert name.precision == pytest.approx(2 / 3)
    assert name.recall == pytest.approx(2 / 3)
    assert name.f1 == pytest.approx(2 / 3)
    assert report.document_accuracy == 0.5  # a and d
    assert report.model_version == "m1"


def test_straight_through_uses_minimum_field_confidence() -> None:
    report = evaluate(predictions=PREDS, gold=GOLD, kind="invoice", target_error=0.0)
    # document min confidences: a 0.8 ok, b 0.3 wrong, c 0.2 wrong, d 0.97 ok
    assert report.straight_through_threshold == 0.8
    assert report.straight_through_rate == 0.5
    assert report.straight_through_error == 0.0


def test_straight_through_with_no_safe_threshold() -> None:
    assert straight_through([0.9, 0.8], [False, True], target_error=0.0) == (0.0, None, 0.0)
    assert straight_through([0.9, 0.8], [False, False], target_error=0.0) == (0.0, None, 0.0)
    assert straight_through([0.9, 0.8, 0.7], [True, True, False], target_error=0.5) == (
        1.0,
        0.7,
        pytest.approx(1 / 3),
    )


def test_ece_by_hand() -> None:
    # bin 0.9-1.0: conf 0.95, 0.95, accuracy 0.5 -> gap 0.45, weight 2/4
    # bin 0.1-0.2: conf 0.15, 0.15, accuracy 0.0 -> gap 0.15, weight 2/4
    ece, bins = expected_calibration_error([0.95, 0.95, 0.15, 0.15], [True, False, False, False])
    assert ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.15)
    assert [b.count for b in bins] == [2, 2]
    perfect, _ = expected_calibration_error([1.0, 1.0, 0.0], [True, True, False])
    assert perfect == 0.0


def test_missing_prediction_is_an_error() -> None:
    with pytest.raises(EvaluationError):
        evaluate(predictions={"a": PREDS["a"]}, gold=GOLD, kind="invoice")


def test_fields_restricts_the_view() -> None:
    report = evaluate(predictions=PREDS, gold=GOLD, kind="invoice", fields=["total"])
    assert list(report.fields) == ["total"]
    assert report.document_accuracy == 0.75
