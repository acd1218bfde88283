"""The evaluator end to end over the shipped graphs: context building, combining, version."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from agents.ports import RulesEvaluator
from rules.errors import GraphLoadError
from rules.evaluator import ZenRulesEvaluator
from schemas.document import Document
from schemas.fields import ClaimType, ExtractedField, Extraction, LineItem
from schemas.verdicts import ReferenceFacts, RuleResult, TriageResult

GRAPHS = Path(__file__).resolve().parents[2] / "rules" / "graphs"
NOW = datetime(2024, 6, 30, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def evaluator() -> ZenRulesEvaluator:
    return ZenRulesEvaluator.load(GRAPHS)


def _f(value: str | None, confidence: float = 0.95) -> ExtractedField:
    return ExtractedField(value=value, confidence=confidence)


def _invoice(**values: str | None) -> tuple[Document, Extraction]:
    base: dict[str, str | None] = {
        "vendor_name": "ACME GmbH",
        "invoice_number": "INV-7",
        "issue_date": "2024-06-01",
        "due_date": "2024-07-01",
        "currency": "EUR",
        "subtotal": "100.00",
        "tax": "19.00",
        "total": "119.00",
    }
    base.update(values)
    doc = Document.from_text(document_id="d1", kind="invoice", text="Invoice INV-7\nTotal 119.00")
    fields = {k: _f(v) for k, v in base.items() if v is not None}
    lines = [LineItem(amount=_f("100.00")), LineItem(amount=_f("19.00"))]
    return doc, Extraction(kind="invoice", fields=fields, line_items=lines, model_version="x")


def _triage(kind: str = "invoice", risk: float = 0.1) -> TriageResult:
    return TriageResult(model_version="t", predicted_kind=kind, risk=risk)


def _claim(claim_type: str, text: str, **values: str | None) -> tuple[Document, Extraction]:
    doc = Document.from_text(
        document_id="c1",
        kind="claim",
        claim_type=cast(ClaimType, claim_type),
        text=text,
    )
    base: dict[str, str | None] = {
        "policy_number": "P-1",
        "incident_date": "2024-05-01",
        "claimed_amount": "2500.00",
        "claimant_name": "Jo Doe",
    }
    base.update(values)
    fields = {k: _f(v) for k, v in base.items() if v is not None}
    return doc, Extraction(kind="claim", fields=fields, model_version="x")


POLICY = {
    "policy_number": "P-1",
    "active_from": "2024-01-01",
    "active_to": "2024-12-31",
    "coverage_limit": 10000,
    "deductible": 500,
}


def test_implements_the_port(evaluator: ZenRulesEvaluator) -> None:
    assert isinstance(evaluator, RulesEvaluator)
    assert evaluator.version.startswith("rules-")


def test_clean_invoice_is_approved_with_a_trace_per_graph(
    evaluator: ZenRulesEvaluator,
) -> None:
    doc, ext = _invoice()
    result = evaluator.evaluate(
        document=doc,
        extraction=ext,
        triage=_triage(),
        reference=ReferenceFacts(),
        now=NOW,
    )
    assert result.outcome == "approve", result.reasons
    assert result.rules_version == evaluator.version
    assert set(result.trace) == set(evaluator.graphs_for("invoice"))
    assert not any(name.startswith("claim_") for name in result.trace)


def test_duplicate_rejects_and_keeps_other_reasons(
    evaluator: ZenRulesEvaluator,
) -> None:
    doc, ext = _invoice(total="150.00")
    result = evaluator.evaluate(
        document=doc,
        extraction=ext,
        triage=_triage(),
        reference=ReferenceFacts(duplicate_of="d0"),
        now=NOW,
    )
    assert result.outcome == "reject"
    codes = {r.code: r.rule for r in result.reasons}
    assert codes["duplicate_invoice"] == "invoice_duplicate"
    assert {"total_not_subtotal_plus_tax", "total_not_sum_of_lines"} <= codes.keys()


def test_receipt_needs_no_invoice_number_but_invoice_does(
    evaluator: ZenRulesEvaluator,
) -> None:
    doc, ext = _invoice(invoice_number=None)
    receipt = doc.model_copy(update={"metadata": {"subtype": "receipt"}})
    kw = {
        "extraction": ext,
        "triage": _triage(),
        "reference": ReferenceFacts(),
        "now": NOW,
    }
    assert evaluator.evaluate(document=receipt, **kw).outcome == "approve"  # type: ignore[arg-type]
    result = evaluator.evaluate(document=doc, **kw)  # type: ignore[arg-type]
    assert [r.code for r in result.reasons] == ["missing_invoice_number"]


def test_unparseable_amount_goes_to_review(evaluator: ZenRulesEvaluator) -> None:
    doc, ext = _invoice(total="12O.00")
    ctx = evaluator.context(
        document=doc,
        extraction=ext,
        triage=_triage(),
        reference=ReferenceFacts(),
        now=NOW,
    )
    assert ctx["fields"]["total"] is None
    result = evaluator.evaluate(
        document=doc,
        extraction=ext,
        triage=_triage(),
        reference=ReferenceFacts(),
        now=NOW,
    )
    assert {"unparseable_value", "missing_total"} <= {r.code for r in result.reasons}


def test_health_codes_billability_is_computed_before_the_engine(
    evaluator: ZenRulesEvaluator,
) -> None:
    kw = {
        "triage": _triage("claim:health"),
        "reference": ReferenceFacts(policy=POLICY),
        "now": NOW,
    }
    doc, ext = _claim("health", "Diabetes follow-up", diagnosis_codes="E11.9, I10")
    assert evaluator.evaluate(document=doc, extraction=ext, **kw).outcome == "approve"  # type: ignore[arg-type]
    doc, ext = _claim("health", "Diabetes follow-up", diagnosis_codes="E11, I10")
    result = evaluator.evaluate(document=doc, extraction=ext, **kw)  # type: ignore[arg-type]
    assert [(r.code, r.message) for r in result.reasons] == [
        ("non_billable_icd10", "Diagnosis codes not billable in ICD-10-CM: E11")
    ]


def test_auto_theft_without_police_report(evaluator: ZenRulesEvaluator) -> None:
    kw = {
        "triage": _triage("claim:auto"),
        "reference": ReferenceFacts(policy=POLICY),
        "now": NOW,
    }
    doc, ext = _claim("auto", "My car was stolen from the driveway", vin="1HGCM82633A004352")
    result = evaluator.evaluate(document=doc, extraction=ext, **kw)  # type: ignore[arg-type]
    assert [r.code for r in result.reasons] == ["theft_without_police_report"]
    doc, ext = _claim("auto", "Stolen car", vin="1HGCM82633A004352", police_report="PR-2024-88")
    assert evaluator.evaluate(document=doc, extraction=ext, **kw).outcome == "approve"  # type: ignore[arg-type]


def test_expired_policy_rejects(evaluator: ZenRulesEvaluator) -> None:
    doc, ext = _claim("auto", "Rear collision", vin="1HGCM82633A004352", incident_date="2025-02-01")
    result = evaluator.evaluate(
        document=doc,
        extraction=ext,
        triage=_triage("claim:auto"),
        reference=ReferenceFacts(policy=POLICY),
        now=datetime(2025, 3, 1, tzinfo=UTC),
    )
    assert result.outcome == "reject"
    assert [r.code for r in result.reasons] == ["policy_expired"]


def test_editing_a_message_changes_version_and_what_reviewers_read(
    tmp_path: Path,
) -> None:
    graphs = tmp_path / "graphs"
    shutil.copytree(GRAPHS, graphs)
    path = graphs / "invoice_duplicate.json"
    path.write_text(path.read_text().replace("'Same vendor and invoice number", "'Already paid? See"))
    before = ZenRulesEvaluator.load(GRAPHS)
    after = ZenRulesEvaluator.load(graphs)
    assert before.version != after.version
    doc, ext = _invoice()
    result = after.evaluate(
        document=doc,
        extraction=ext,
        triage=_triage(),
        reference=ReferenceFacts(duplicate_of="d0"),
        now=NOW,
    )
    assert [r.message for r in result.reasons] == ["Already paid? See as document d0"]


def test_a_failing_graph_sends_to_review(tmp_path: Path) -> None:
    graphs = tmp_path / "graphs"
    shutil.copytree(GRAPHS, graphs)
    broken = json.loads((graphs / "invoice_duplicate.json").read_text())
    broken["nodes"].insert(
        1,
        {
            "id": "boom",
            "type": "expressionNode",
            "name": "boom",
            "position": {"x": 0, "y": 0},
            "content": {"expressions": [{"id": "x", "key": "x", "value": "date(null)"}]},
        },
    )
    broken["edges"] = [
        {"id": "a", "sourceId": "request", "targetId": "boom", "type": "edge"},
        {"id": "b", "sourceId": "boom", "targetId": "duplicate", "type": "edge"},
        {"id": "c", "sourceId": "duplicate", "targetId": "response", "type": "edge"},
    ]
    (graphs / "invoice_duplicate.json").write_text(json.dumps(broken))
    doc, ext = _invoice()
    result = ZenRulesEvaluator.load(graphs).evaluate(
        document=doc,
        extraction=ext,
        triage=_triage(),
        reference=ReferenceFacts(),
        now=NOW,
    )
    assert result.outcome == "review"
    assert [(r.code, r.rule) for r in result.reasons] == [("rules_error", "invoice_duplicate")]


def test_invalid_graph_refuses_to_load(tmp_path: Path) -> None:
    (tmp_path / "invoice_bad.json").write_text("{not json")
    with pytest.raises(GraphLoadError, match=r"invoice_bad\.json"):
        ZenRulesEvaluator.load(tmp_path)


def test_one_composite_call_answers_as_graph_by_graph(evaluator: ZenRulesEvaluator) -> None:
    """The per-kind composite must give the reasons and traces each graph gives alone."""
    doc, ext = _invoice(total="500.00", currency="XAU")
    ref = ReferenceFacts(duplicate_of="d0")
    ctx = evaluator.context(document=doc, extraction=ext, triage=_triage(), reference=ref, now=NOW)
    together = evaluator.evaluate(document=doc, extraction=ext, triage=_triage(), reference=ref, now=NOW)
    alone = evaluator._evaluate_each(evaluator.graphs_for("invoice"), ctx)

    # Messages may spell numbers differently (a sub-decision gets "500", a top-level
    # call "500.0"), so compare what routing reads and which nodes the trace holds.
    def brief(result: RuleResult) -> list[tuple[str, str, str]]:
        return [(r.code, r.severity, r.rule) for r in result.reasons]

    assert brief(together) == brief(alone) and together.reasons
    assert together.outcome == alone.outcome
    assert {n: set(t) for n, t in together.trace.items()} == {n: set(t) for n, t in alone.trace.items()}
