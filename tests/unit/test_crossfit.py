"""Cross-fitting: out-of-fold predictions from models that never trained on the document,
thresholds certified on all of them, and a pooled report in which no document is judged
by thresholds fitted on it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agents.routing import RoutingPolicy
from feedback.crossfit import (
    cross_fit,
    crossfit_file,
    group_key,
    pool_reports,
    protocol_text,
)
from feedback.errors import EvaluationError
from feedback.evaluation import kfold, out_of_fold_predictions
from feedback.routing_fit import NEVER_AUTO, HeldoutReport, KindReport, error_upper_bound, split_in_two
from schemas.document import LabelledDocument, Line
from schemas.fields import ExtractedField, Extraction
from tests.fakes import RecordingTrainer

NAMES = ("vendor_name", "issue_date", "total")
MANDATORY = {"invoice": NAMES}
GOLD = {"vendor_name": "ACME", "issue_date": "2024-06-01", "total": "10.00"}


def _doc(i: int, *, text: str | None = None, vendor: str = "ACME") -> LabelledDocument:
    return LabelledDocument(
        document_id=f"d{i:04d}",
        kind="invoice",
        lines=[Line(text=text if text is not None else f"receipt {i}")],
        gold={**GOLD, "vendor_name": vendor},
    )


def _pred(conf: float = 0.99, *, wrong: bool = False, vendor: str = "ACME") -> Extraction:
    values = {**GOLD, "vendor_name": vendor}
    fields = {
        n: ExtractedField(value="WRONG" if wrong and n == "total" else values[n], confidence=conf)
        for n in NAMES
    }
    return Extraction(kind="invoice", fields=fields, model_version="m")


def test_kfold_holds_each_document_out_once_and_keeps_identical_ones_together() -> None:
    docs = [_doc(i) for i in range(40)] + [_doc(100, text="receipt 7")]  # d0100 repeats d0007's text
    folds = kfold(docs, folds=5, seed=3)
    held = [d.document_id for _, out in folds for d in out]
    assert sorted(held) == sorted(d.document_id for d in docs)
    for train, out in folds:
        assert {d.document_id for d in train}.isdisjoint(d.document_id for d in out)
        together = {"d0007", "d0100"} & {d.document_id for d in out}
        assert together in (set(), {"d0007", "d0100"})
    # the input order does not change the folds
    assert [[d.document_id for d in out] for _, out in kfold(list(reversed(docs)), folds=5, seed=3)] == [
        [d.document_id for d in out] for _, out in folds
    ]
    with pytest.raises(EvaluationError):
        kfold(docs, folds=1)
    with pytest.raises(EvaluationError):
        kfold(docs[:3], folds=5)


def test_vendor_grouping_keeps_a_vendor_in_one_fold() -> None:
    docs = [_doc(i, vendor=f"Vendor {i % 7}") for i in range(70)]
    for _, out in kfold(docs, folds=3, group=group_key("vendor")):
        vendors_out = {d.gold["vendor_name"] for d in out}
        assert all(d.gold["vendor_name"] not in vendors_out for d in docs if d not in out)
    with pytest.raises(EvaluationError):
        group_key("customer")


def test_out_of_fold_predictions_never_come_from_a_model_that_trained_on_the_document() -> None:
    docs = [_doc(i) for i in range(30)]
    trainer = RecordingTrainer({d.document_id: _pred() for d in docs})
    preds = asyncio.run(out_of_fold_predictions(documents=docs, train=trainer, folds=3, log=lambda _: None))
    assert set(preds) == {d.document_id for d in docs}
    assert len(trainer.training_sets) == 3
    # ScriptedExtractor refuses documents it trained on: every prediction is out-of-fold,
    # and the model that made it did train on the other folds
    for doc_id, p in preds.items():
        fold = int(p.model_version.removeprefix("scripted-")) - 1
        assert doc_id not in trainer.training_sets[fold]
        assert len(trainer.training_sets[fold]) == 20


def test_pooled_report_judges_each_half_by_the_other_halfs_thresholds() -> None:
    # Half A is clean at 0.99, half B wrong at 0.99. Fitted in-sample, A would go through
    # (0 errors) and B would not. Cross-fitted, B is judged by A's certified thresholds
    # (so B's wrong documents go through and are counted), and A by B's NEVER_AUTO.
    docs = [_doc(i) for i in range(1600)]
    a, b = split_in_two(docs)
    in_b = {d.document_id for d in b}
    preds = {d.document_id: _pred(wrong=d.document_id in in_b) for d in docs}
    result = cross_fit(predictions=preds, documents=docs, target_error=0.01, mandatory=MANDATORY)
    first, second = result.halves
    assert (first.fitted_on, first.reported_on) == (len(a), len(b))
    assert first.thresholds["invoice"] == dict.fromkeys(NAMES, 0.99)
    assert second.thresholds["invoice"]["total"] == NEVER_AUTO
    (k,) = result.heldout.kinds
    assert (k.documents, k.straight_through, k.errors) == (1600, len(b), len(b))
    assert k.error_bound == 1.0
    # the deployed fit sees all predictions: half of them wrong, so `total` is not certified
    assert result.fitted.thresholds()["invoice"]["total"] == NEVER_AUTO


@pytest.mark.parametrize(
    ("clean", "certified_all", "certified_halves"),
    [
        (700, True, True),  # ~350 a half: each half certifies 1 % too
        (450, True, False),  # 299 needed: all certify, a ~225 half does not
        (200, False, False),  # too few even together
    ],
)
def test_enough_clean_confident_predictions_certify_one_percent(
    clean: int, certified_all: bool, certified_halves: bool
) -> None:
    docs = [_doc(i) for i in range(clean + 40)]
    # clean at 0.99, then a block of wrong ones at 0.3 that no threshold should accept
    preds = {d.document_id: _pred(0.99) if i < clean else _pred(0.3, wrong=True) for i, d in enumerate(docs)}
    result = cross_fit(predictions=preds, documents=docs, target_error=0.01, mandatory=MANDATORY)
    fits = {f.field: f for f in result.fitted.fields}
    assert (fits["total"].threshold == 0.99) is certified_all
    if certified_all:
        assert (fits["total"].support, fits["total"].errors) == (clean, 0)
    else:
        assert fits["total"].fallback == f"insufficient support: {clean + 40} predictions, 299 needed"
    (k,) = result.heldout.kinds
    assert (k.straight_through == clean) is certified_halves
    assert k.errors == 0


def test_pool_reports_sums_counts_and_redoes_the_bound() -> None:
    def report(docs: int, through: int, errors: int) -> HeldoutReport:
        kind = KindReport(
            kind="invoice",
            documents=docs,
            straight_through=through,
            straight_through_rate=through / docs,
            errors=errors,
            error_rate=errors / through if through else 0.0,
            error_bound=None,
        )
        return HeldoutReport(confidence=0.95, kinds=[kind])

    (k,) = pool_reports([report(100, 40, 1), report(120, 0, 0)], confidence=0.95).kinds
    assert (k.documents, k.straight_through, k.errors) == (220, 40, 1)
    assert k.straight_through_rate == pytest.approx(40 / 220)
    assert k.error_bound == pytest.approx(error_upper_bound(errors=1, n=40))


def test_crossfit_file_loads_as_a_routing_policy(tmp_path: Path) -> None:
    docs = [_doc(i) for i in range(700)]
    preds = {d.document_id: _pred(0.97) for d in docs}
    result = cross_fit(predictions=preds, documents=docs, target_error=0.01, mandatory=MANDATORY)
    protocol = protocol_text(documents=700, folds=5, grouping="document", halves=result.halves)
    data = crossfit_file(result=result, predictions=preds, max_risk=0.4, protocol=protocol)
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps(data))
    policy = RoutingPolicy.load(path=path, default_threshold=0.9, max_risk=0.5)
    assert policy.thresholds == {"invoice": dict.fromkeys(NAMES, 0.97)}
    assert (policy.max_risk, policy.default_threshold) == (0.4, NEVER_AUTO)
    report = json.loads(path.read_text())["report"]
    assert report["fold_models"] == ["m"] and len(report["halves"]) == 2
    assert "fitted on ALL 700 out-of-fold predictions" in report["protocol"]
    assert "approximated by the fold models" in report["protocol"]


def test_document_budget_splits_the_target_over_a_kinds_mandatory_fields() -> None:
    # 450 clean predictions certify 1 % per field (299 needed) but not 1 %/3 per field
    # (0 errors in n bounds the error below 0.33 % at 95 % only from n = 898 on).
    docs = [_doc(i) for i in range(490)]
    preds = {d.document_id: _pred(0.99) if i < 450 else _pred(0.3, wrong=True) for i, d in enumerate(docs)}
    per_field = cross_fit(predictions=preds, documents=docs, target_error=0.01, mandatory=MANDATORY)
    per_doc = cross_fit(
        predictions=preds, documents=docs, target_error=0.01, mandatory=MANDATORY, budget="document"
    )
    assert per_field.fitted.budget == "field" and per_doc.fitted.budget == "document"
    assert next(f for f in per_field.fitted.fields if f.field == "total").threshold == 0.99
    assert {f.threshold for f in per_doc.fitted.fields} == {NEVER_AUTO}
    assert all("898 needed" in (f.fallback or "") for f in per_doc.fitted.fields)
