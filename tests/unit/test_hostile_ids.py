"""Document ids from outside are restricted at ingest (schemas/ids.py): a hostile id is
dead-lettered with the reason, never stored, so it cannot reach a URL later."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import ValidationError

from agents.routing import RoutingPolicy
from autoclerk.bootstrap import Adapters, build_service
from schemas.events import DocumentReceived, Envelope
from schemas.ids import check_document_id, document_id_from
from schemas.messages import MessageMeta, Topics
from schemas.scope import scope_attributes, vendor_key
from tests.fakes import FakeDocumentStore, FakeExtractor, FakeRules, FakeTriage

TOPICS = Topics.with_prefix("u")
GOOD = "vendor_name: ACME\nissue_date: 2024-01-02\ntotal: 10.00"

HOSTILE = {
    "traversal": "spoof/../other",
    "slash": "a/b",
    "encoded slash": "a%2Fb",
    "dot dot": "..",
    "dot dot inside": "a..b",
    "leading dot": ".hidden",
    "leading dash": "-rf",
    "backslash": "a\\b",
    "unicode": "d\u00f3c-1",
    "cjk": "\u6587\u66f8",
    "fullwidth slash": "a\uff0fb",
    "space": "a b",
    "query": "a?b",
    "fragment": "a#b",
    "NUL": "a\x00b",
    "newline": "a\nb",
    "empty": "",
    "very long": "x" * 129,
    "huge": "y" * 100_000,
}
VALID = [
    "d1",
    "doc-1",
    "sroie-X00016469669",
    "synthea-0826c4e7-e2ca-a5ec-2d6a-a24b7384d7f7",
    "a.b:c_d",
    "x" * 128,
]


@pytest.mark.parametrize("doc_id", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_document_ids_are_refused(doc_id: str) -> None:
    with pytest.raises(ValidationError, match="document_id"):
        DocumentReceived(document_id=doc_id, kind="invoice", text="x")


@pytest.mark.parametrize("doc_id", VALID)
def test_ordinary_document_ids_pass(doc_id: str) -> None:
    assert DocumentReceived(document_id=doc_id, kind="invoice", text="x").document_id == doc_id


def _raw(doc_id: str, **extra: Any) -> bytes:
    env = Envelope[DocumentReceived](
        type="document.received",
        payload=DocumentReceived(document_id="placeholder", kind="invoice", text=GOOD),
    )
    data = json.loads(env.model_dump_json())
    data["payload"].update(document_id=doc_id, **extra)
    return json.dumps(data).encode()


def _service(store: FakeDocumentStore) -> Any:
    adapters = Adapters(
        triage=FakeTriage(),
        extractor=FakeExtractor(),
        rules=FakeRules(),
        parse_pdf=lambda b: ([], []),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
    )
    return build_service(store=store, checkpointer=InMemorySaver(), adapters=adapters, topics=TOPICS)


@pytest.mark.parametrize("name", ["traversal", "encoded slash", "unicode", "very long", "dot dot"])
async def test_a_hostile_id_is_dead_lettered_with_the_reason(name: str) -> None:
    store = FakeDocumentStore()
    out = await _service(store).on_received(
        raw=_raw(HOSTILE[name]), meta=MessageMeta(topic=TOPICS.received, partition=0, offset=1)
    )
    [letter] = [json.loads(o.value) for o in out]
    assert letter["type"] == "document.deadletter"
    assert "document_id" in letter["payload"]["reason"], letter["payload"]["reason"]
    assert store.documents == {} and store.tasks == {}
    [(_, reason, _)] = store.dead_letters.values()
    assert "document_id" in reason


async def test_a_bad_queue_name_is_dead_lettered_and_a_good_one_reaches_the_task() -> None:
    store = FakeDocumentStore()
    svc = _service(store)
    bad = await svc.on_received(
        raw=_raw("d-queue-1", queue="../Fraud"),
        meta=MessageMeta(topic=TOPICS.received, partition=0, offset=1),
    )
    assert "queue" in json.loads(bad[0].value)["payload"]["reason"]
    good = await svc.on_received(
        raw=_raw("d-queue-2", queue="fraud", text=GOOD.replace("ACME", "ACME?")),
        meta=MessageMeta(topic=TOPICS.received, partition=0, offset=2),
    )
    [event] = [json.loads(o.value) for o in good]
    assert event["type"] == "review.requested" and event["payload"]["queue"] == "fraud"


def test_file_names_become_valid_ids() -> None:
    assert document_id_from("My Invoice (1)") == "My-Invoice--1-"
    assert document_id_from("../../etc/passwd") == "etc-passwd"
    assert document_id_from("\u00e9t\u00e9") == "t-"
    assert document_id_from("...") == "document"
    assert len(document_id_from("z" * 300)) == 128
    for name in ["a/b", "..x", "\u6587\u66f8"]:
        check_document_id(document_id_from(name))


def test_scope_attributes_read_what_routing_read() -> None:
    from schemas.fields import ExtractedField, Extraction

    def ex(**values: str) -> Extraction:
        fields = {k: ExtractedField(value=v, confidence=0.9) for k, v in values.items()}
        return Extraction(kind="invoice", fields=fields, model_version="t")

    got = scope_attributes(claim_type=None, extraction=ex(vendor_name="  ACME   Ltd ", total="1,234.50"))
    assert (got.vendor, got.claim_type, got.amount) == ("acme ltd", None, 1234.5)
    claim = scope_attributes(claim_type=None, extraction=ex(claim_type="Health", claimed_amount="90"))
    assert (claim.claim_type, claim.amount) == ("health", 90.0)
    assert scope_attributes(claim_type="auto", extraction=ex(claim_type="health")).claim_type == "auto"
    assert scope_attributes(claim_type=None, extraction=None).amount is None
    assert vendor_key("   ") is None
