"""What reviewers read comes from the decision graphs: editing a graph's JSON changes the
reasons (and the rules version) with no code change."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from agents.routing import RoutingPolicy, route
from rules.evaluator import ZenRulesEvaluator
from schemas.document import Document
from schemas.fields import ExtractedField, Extraction
from schemas.verdicts import ReferenceFacts, TriageResult

GRAPHS = Path(__file__).resolve().parents[2] / "rules" / "graphs"
NOW = datetime(2024, 6, 30, 12, tzinfo=UTC)
OLD = "'Same vendor and invoice number as document '"
NEW = "'Possible double payment, first received as '"


def _duplicate_invoice() -> tuple[Document, Extraction]:
    values = {
        "vendor_name": "ACME GmbH",
        "invoice_number": "INV-7",
        "issue_date": "2024-06-01",
        "currency": "EUR",
        "subtotal": "100.00",
        "tax": "19.00",
        "total": "119.00",
    }
    doc = Document.from_text(document_id="d2", kind="invoice", text="Invoice INV-7\nTotal 119.00")
    fields = {k: ExtractedField(value=v, confidence=0.99) for k, v in values.items()}
    return doc, Extraction(kind="invoice", fields=fields, model_version="m")


def _reasons(graphs: Path) -> tuple[str, list[str], list[str]]:
    evaluator = ZenRulesEvaluator.load(graphs)
    doc, ext = _duplicate_invoice()
    result = evaluator.evaluate(
        document=doc,
        extraction=ext,
        triage=TriageResult(model_version="t", predicted_kind="invoice", risk=0.1),
        reference=ReferenceFacts(duplicate_of="d1"),
        now=NOW,
    )
    decision = route(
        policy=RoutingPolicy(default_threshold=0.9),
        extraction=ext,
        triage=TriageResult(model_version="t", predicted_kind="invoice", risk=0.1),
        rules=result,
        amount=119.0,
    )
    assert decision.outcome == "reject"
    return (
        evaluator.version,
        [r.message for r in result.reasons if r.code == "duplicate_invoice"],
        [r.message for r in decision.reasons if r.code == "duplicate_invoice"],
    )


def test_edited_reason_message_reaches_the_decision_without_code_changes(tmp_path: Path) -> None:
    graphs = tmp_path / "graphs"
    shutil.copytree(GRAPHS, graphs)
    before_version, before_rules, before_route = _reasons(graphs)
    assert before_rules == before_route == ["Same vendor and invoice number as document d1"]

    path = graphs / "invoice_duplicate.json"
    content = path.read_text(encoding="utf-8")
    assert OLD in content
    path.write_text(content.replace(OLD, NEW), encoding="utf-8")

    after_version, after_rules, after_route = _reasons(graphs)
    assert after_rules == after_route == ["Possible double payment, first received as d1"]
    assert after_version != before_version
    assert ZenRulesEvaluator.load(GRAPHS).version == before_version  # the shipped graphs are untouched
