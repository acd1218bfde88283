"""A claim type read from the document chooses the rule set only when it is confident
and printed; otherwise the document goes to review (issue 11, item 6)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.extract.llm_fields import build_fields
from agents.routing import RoutingPolicy
from agents.selectors import RULE_SET_UNVERIFIED, unverified_selectors
from autoclerk.bootstrap import Adapters, build_service
from schemas.catalogue import SELECTORS
from schemas.document import Document
from schemas.events import DocumentReceived, Envelope
from schemas.fields import ExtractedField, Extraction
from schemas.messages import MessageMeta, Topics
from tests.fakes import FakeDocumentStore, FakeExtractor, FakeRules, FakeTriage, ScriptedExtractor

POLICY = RoutingPolicy(default_threshold=0.9)
TEXT = "CLAIM FORM\npolicy_number: POL-1\nincident_date: 2024-03-02\nclaimed_amount: 120.00"
TOPICS = Topics.with_prefix("sel")


def claim(text: str = TEXT, claim_type: Any = None, doc_id: str = "c1") -> Document:
    return Document.from_text(document_id=doc_id, kind="claim", text=text, claim_type=claim_type)


def extraction(value: str | None, confidence: float = 0.99) -> Extraction:
    fields = {"claim_type": ExtractedField(value=value, raw=value, confidence=confidence)}
    return Extraction(kind="claim", fields=fields, model_version="x")


def test_the_catalogue_names_the_claim_type_as_the_only_selector() -> None:
    assert dict(SELECTORS) == {"claim": "claim_type"}


@pytest.mark.parametrize(
    ("text", "declared", "value", "confidence", "why"),
    [
        (TEXT, "auto", "health", 0.1, None),  # upstream chose: the text decides nothing
        (TEXT + "\nType: HEALTH", None, "health", 0.95, None),  # printed and confident
        (TEXT, None, "health", 0.99, "is not printed in the document"),
        (TEXT + "\nType: HEALTH", None, "health", 0.6, "confidence 0.60 below 0.90"),
        (TEXT, None, None, 0.0, "not declared upstream and not read"),
        (TEXT + "\nhealthcare", None, "health", 0.99, "is not printed"),  # whole words only
    ],
)
def test_an_extracted_claim_type_must_be_confident_and_printed(
    text: str, declared: Any, value: str | None, confidence: float, why: str | None
) -> None:
    reasons = unverified_selectors(
        document=claim(text, declared), extraction=extraction(value, confidence), policy=POLICY
    )
    if why is None:
        assert reasons == []
    else:
        assert [r.code for r in reasons] == [RULE_SET_UNVERIFIED]
        assert why in reasons[0].message and reasons[0].rule == "routing"


def test_the_fitted_threshold_for_the_field_applies() -> None:
    policy = RoutingPolicy(default_threshold=0.5, thresholds={"claim": {"claim_type": 0.97}})
    doc = claim(TEXT + "\nAUTO")
    assert unverified_selectors(document=doc, extraction=extraction("auto", 0.96), policy=policy)
    assert not unverified_selectors(document=doc, extraction=extraction("auto", 0.98), policy=policy)


def test_invoices_and_failed_extractions_add_nothing() -> None:
    invoice = Document.from_text(document_id="i", kind="invoice", text="Total 1.00")
    empty = Extraction(kind="invoice", model_version="x")
    assert unverified_selectors(document=invoice, extraction=empty, policy=POLICY) == []
    failed = Extraction(kind="claim", model_version="x", failure="llm_unavailable: down")
    assert unverified_selectors(document=claim(), extraction=failed, policy=POLICY) == []


def test_the_llm_grounding_check_no_longer_exempts_the_claim_type() -> None:
    fields, report = build_fields(
        document=claim(), raw_values={"claim_type": "health"}, probabilities=None, fallback_confidence=0.9
    )
    assert report.ungrounded == ["claim_type"] and fields["claim_type"].confidence == pytest.approx(0.45)
    declared, report = build_fields(
        document=claim(claim_type="health"),
        raw_values={"claim_type": "health"},
        probabilities=None,
        fallback_confidence=0.9,
    )
    assert report.ungrounded == [] and declared["claim_type"].confidence == pytest.approx(0.9)


# Through the workflow, with the fakes: the route, not only the function.


def _service(extractor: Any) -> Any:
    adapters = Adapters(
        triage=FakeTriage(),
        extractor=extractor,
        rules=FakeRules(),
        parse_pdf=lambda b: ([], []),
        routing=POLICY,
    )
    return build_service(
        store=FakeDocumentStore(), checkpointer=InMemorySaver(), adapters=adapters, topics=TOPICS
    )


async def _route(extractor: Any, *, text: str, claim_type: Any = None, doc_id: str = "c1") -> dict[str, Any]:
    payload = DocumentReceived(document_id=doc_id, kind="claim", text=text, claim_type=claim_type)
    raw = Envelope[DocumentReceived](type="document.received", payload=payload).model_dump_json().encode()
    meta = MessageMeta(topic=TOPICS.received, partition=0, offset=1, timestamp_ms=1_764_633_600_000)
    out = await _service(extractor).on_received(raw=raw, meta=meta)
    body = json.loads(out[0].value)
    return {"type": body["type"], **body["payload"]}


async def test_an_unprinted_claim_type_sends_the_claim_to_review() -> None:
    scripted = ScriptedExtractor(answers={"c1": extraction("health")}, trained_on=set(), version="s")
    sent = await _route(scripted, text=TEXT)
    assert sent["type"] == "review.requested"
    assert RULE_SET_UNVERIFIED in [r["code"] for r in sent["reasons"]]


async def test_a_low_confidence_claim_type_sends_the_claim_to_review() -> None:
    sent = await _route(FakeExtractor(), text=TEXT + "\nclaim_type: property?")
    assert sent["type"] == "review.requested"
    assert [r["code"] for r in sent["reasons"]] == [RULE_SET_UNVERIFIED]


async def test_a_confident_printed_or_declared_claim_type_goes_straight_through() -> None:
    printed = await _route(FakeExtractor(), text=TEXT + "\nclaim_type: property")
    assert (printed["type"], printed["outcome"]) == ("document.decided", "approve")
    declared = await _route(FakeExtractor(), text=TEXT, claim_type="property", doc_id="c2")
    assert (declared["type"], declared["outcome"]) == ("document.decided", "approve")
