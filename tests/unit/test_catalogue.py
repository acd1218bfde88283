"""One catalogue of kinds and fields: routing, the rules (context and graphs), the
extraction prompt, the typed models and the amount parser all read `schemas/`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest

from agents import nodes, routing
from agents.extract import prompts
from agents.routing import RoutingPolicy, route
from autoclerk.adapters import routing_policy
from infra.settings import RoutingSettings, Settings
from review import second
from review.tasks import _fields
from rules.evaluator import ZenRulesEvaluator
from schemas import catalogue, values
from schemas.catalogue import KINDS, ClaimType, DocumentKind
from schemas.document import Document
from schemas.fields import ClaimFields, ExtractedField, Extraction, InvoiceFields, field_names
from schemas.limits import RuleLimits
from schemas.verdicts import ReferenceFacts, RuleResult, TriageResult

GRAPHS = Path(__file__).resolve().parents[2] / "rules" / "graphs"
NOW = datetime(2024, 6, 30, 12, tzinfo=UTC)
# (kind, variant): a claim's type, an invoice's subtype
VARIANTS: list[tuple[DocumentKind, str | None]] = [
    ("invoice", "invoice"),
    ("invoice", "receipt"),
    ("claim", None),
    ("claim", "auto"),
    ("claim", "health"),
    ("claim", "property"),
]


@pytest.fixture(scope="module")
def evaluator() -> ZenRulesEvaluator:
    return ZenRulesEvaluator.load(GRAPHS)


def _document(kind: DocumentKind, variant: str | None) -> Document:
    if kind == "claim":
        return Document.from_text(
            document_id="c", kind="claim", claim_type=cast(ClaimType, variant), text="x"
        )
    meta = {"subtype": variant} if variant else None
    return Document.from_text(document_id="i", kind="invoice", text="x", metadata=meta)


def _extraction(kind: DocumentKind, confidence: float = 0.95, **overrides: str | None) -> Extraction:
    sample = {"date": "2024-05-01", "amount": "100.00", "codes": "E11.9", "currency": "EUR"}
    fields = {}
    for spec in catalogue.specs(kind):
        value = overrides.get(spec.name, sample.get(spec.shape, "X-1"))
        if value is not None:
            fields[spec.name] = ExtractedField(value=value, confidence=confidence)
    return Extraction(kind=kind, fields=fields, model_version="m")


def test_the_typed_models_name_the_catalogues_fields_in_order() -> None:
    assert field_names("invoice") == tuple(n for n in InvoiceFields.model_fields if n != "line_items")
    assert field_names("claim") == tuple(ClaimFields.model_fields)


def test_the_mandatory_sets_chosen() -> None:
    assert catalogue.MANDATORY == {
        "invoice": ("vendor_name", "issue_date", "total"),
        "claim": ("policy_number", "incident_date", "claimed_amount"),
    }
    assert catalogue.mandatory("invoice", "invoice") == (
        "vendor_name",
        "invoice_number",
        "issue_date",
        "total",
    )
    assert catalogue.mandatory("claim", "auto") == ("policy_number", "incident_date", "claimed_amount", "vin")
    assert catalogue.mandatory("claim", "health")[-1] == "diagnosis_codes"
    assert catalogue.mandatory("unknown") == ()


def test_shapes_amounts_dates_and_codes() -> None:
    assert {"subtotal", "tax", "total", "claimed_amount"} == catalogue.AMOUNT_FIELDS
    assert {"issue_date", "due_date", "incident_date"} == catalogue.DATE_FIELDS
    assert {"diagnosis_codes", "procedure_codes"} == catalogue.CODE_FIELDS
    assert catalogue.SIZING_FIELDS == ("total", "claimed_amount")
    for kind in KINDS:  # a name means one shape in every kind (currency)
        for spec in catalogue.specs(kind):
            assert values.shape_of(spec.name) == catalogue.SHAPES[spec.name] == spec.shape
    # names outside the catalogue keep their shape by name (line items, labels)
    assert [values.shape_of(n) for n in ("amount", "date", "unit_price")] == ["amount", "date", "text"]


def test_routing_gates_exactly_the_catalogues_mandatory_fields() -> None:
    assert routing.MANDATORY is catalogue.MANDATORY
    policy = RoutingPolicy(default_threshold=0.9)
    for kind in KINDS:
        decision = route(
            policy=policy,
            extraction=_extraction(kind, confidence=0.5),
            triage=TriageResult(model_version="t", predicted_kind=kind, risk=0.0),
            rules=RuleResult(rules_version="r", outcome="approve"),
            amount=None,
        )
        low = {r.message.split(":")[0] for r in decision.reasons if r.code == "low_confidence"}
        assert low == set(catalogue.mandatory(kind)), kind


@pytest.mark.parametrize(("kind", "variant"), VARIANTS)
def test_rules_read_the_catalogues_mandatory_fields(
    evaluator: ZenRulesEvaluator, kind: DocumentKind, variant: str | None
) -> None:
    document = _document(kind, variant)
    triage = TriageResult(model_version="t", predicted_kind=kind, risk=0.0)
    empty = Extraction(kind=kind, model_version="m")
    ctx = evaluator.context(
        document=document, extraction=empty, triage=triage, reference=ReferenceFacts(), now=NOW
    )
    assert ctx["document"]["mandatory"] == list(catalogue.mandatory(kind, variant))
    result = evaluator.evaluate(
        document=document, extraction=empty, triage=triage, reference=ReferenceFacts(), now=NOW
    )
    missing = {r.code for r in result.reasons if r.code.startswith("missing_")}
    assert missing == {f"missing_{n}" for n in catalogue.mandatory(kind, variant)}


def test_the_rules_confidence_check_reads_the_kinds_mandatory_fields(evaluator: ZenRulesEvaluator) -> None:
    for kind in KINDS:
        extraction = _extraction(kind, confidence=0.3)
        for name in catalogue.mandatory(kind):
            extraction.fields[name] = ExtractedField(value=extraction.fields[name].value, confidence=0.8)
        ctx = evaluator.context(
            document=_document(kind, None),
            extraction=extraction,
            triage=TriageResult(model_version="t", predicted_kind=kind, risk=0.0),
            reference=ReferenceFacts(),
            now=NOW,
        )
        assert ctx["features"]["min_confidence"] == 0.8, kind


@pytest.mark.parametrize("claim_type", [None, "auto", "health", "property", "other"])
def test_the_prompt_names_the_catalogues_mandatory_fields(claim_type: ClaimType | None) -> None:
    assert prompts.mandatory_fields("claim", claim_type) == catalogue.mandatory("claim", claim_type)
    message = prompts.system_message("claim", claim_type, reasoning=False)
    assert f"Mandatory for this document: {', '.join(catalogue.mandatory('claim', claim_type))}." in message
    invoice = prompts.system_message("invoice", None, reasoning=False)
    assert "vendor_name, issue_date, total, and invoice_number unless it is a till receipt" in invoice


def test_one_amount_parser() -> None:
    assert values.parse_amount(None) is None
    assert values.parse_amount("1234.50") == Decimal("1234.50")
    assert values.parse_amount(" $1,234.50 ") == Decimal("1234.50")
    for bad in ("abc", "", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            values.parse_amount(bad)
    assert second.amount_of is values.document_amount
    assert values.document_amount({"claimed_amount": "2,500.00"}) == Decimal("2500.00")
    assert values.document_amount({"total": "n/a", "claimed_amount": "7"}) == Decimal("7")
    assert nodes.amount_of(_extraction("invoice", total="1,234.50")) == 1234.5
    assert nodes.amount_of(_extraction("invoice", total=None)) is None


def test_rules_parse_amounts_and_dates_with_the_shared_parsers(evaluator: ZenRulesEvaluator) -> None:
    ctx = evaluator.context(
        document=_document("invoice", "invoice"),
        extraction=_extraction("invoice", total="1,234.50", tax="abc", due_date="2024-07-01T10:00:00"),
        triage=TriageResult(model_version="t", predicted_kind="invoice", risk=0.0),
        reference=ReferenceFacts(),
        now=NOW,
    )
    assert ctx["fields"]["total"] == 1234.5
    assert ctx["fields"]["due_date"] == "2024-07-01"
    assert ctx["fields"]["tax"] is None and ctx["features"]["unparseable"] == "tax"


def test_the_graphs_read_the_policys_limits() -> None:
    settings = Settings(routing=RoutingSettings(rule_high_risk=0.9, rule_confidence_floor=0.2))
    limits = routing_policy(settings).rule_limits
    assert limits == RuleLimits(high_risk=0.9, confidence_floor=0.2)
    document, triage = (
        _document("invoice", "receipt"),
        TriageResult(model_version="t", predicted_kind="invoice", risk=0.85),
    )
    extraction = _extraction("invoice", confidence=0.4)
    kw = {
        "document": document,
        "extraction": extraction,
        "triage": triage,
        "reference": ReferenceFacts(),
        "now": NOW,
    }
    default = {r.code for r in ZenRulesEvaluator.load(GRAPHS).evaluate(**kw).reasons}  # type: ignore[arg-type]
    assert {"high_risk", "low_confidence"} <= default
    loose = {r.code for r in ZenRulesEvaluator.load(GRAPHS, limits=limits).evaluate(**kw).reasons}  # type: ignore[arg-type]
    assert not {"high_risk", "low_confidence"} & loose


def test_the_review_page_flags_low_confidence_with_the_policys_thresholds() -> None:
    policy = RoutingPolicy(default_threshold=0.99, thresholds={"invoice": {"total": 0.6}})
    stored = _extraction("invoice", confidence=0.7).model_dump(mode="json")
    flagged = {f.name for f in _fields("invoice", stored, policy) if f.low}
    assert flagged == set(field_names("invoice")) - {"total"}
    assert not any(f.low for f in _fields("invoice", stored, 0.5))  # a plain number still works
