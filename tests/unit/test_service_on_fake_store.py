"""The service layer on the fake store and fakes of every adapter: the outcomes,
redelivery and bad-input rules in milliseconds, the cosmicpython way. The fake keeps
the SQL store's semantics (tests/integration/test_store_conformance.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from agents.routing import RoutingPolicy
from agents.service import DocumentService
from autoclerk.bootstrap import Adapters, build_service
from schemas.events import DocumentReceived, Envelope, ReviewCompleted
from schemas.messages import MessageMeta, Outgoing, Topics
from tests.fakes import FakeDocumentStore, FakeExtractor, FakeRules, FakeTriage

TOPICS = Topics.with_prefix("u")
GOOD = "vendor_name: ACME\nissue_date: 2024-01-02\ntotal: 10.00"


def service(store: FakeDocumentStore) -> DocumentService:
    adapters = Adapters(
        triage=FakeTriage(),
        extractor=FakeExtractor(),
        rules=FakeRules(),
        parse_pdf=lambda b: ([], []),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
    )
    return build_service(store=store, checkpointer=InMemorySaver(), adapters=adapters, topics=TOPICS)


def received(text: str, *, doc_id: str | None = None) -> bytes:
    payload = DocumentReceived(document_id=doc_id or uuid.uuid4().hex, kind="invoice", text=text)
    return Envelope[DocumentReceived](type="document.received", payload=payload).model_dump_json().encode()


def meta(offset: int, topic: str = TOPICS.received) -> MessageMeta:
    return MessageMeta(topic=topic, partition=0, offset=offset, timestamp_ms=1_764_633_600_000)


def types(out: list[Outgoing]) -> list[str]:
    return [json.loads(o.value)["type"] for o in out]


def payload(out: Outgoing) -> dict[str, Any]:
    return dict(json.loads(out.value)["payload"])


async def test_straight_through_decides_once_even_when_redelivered() -> None:
    store = FakeDocumentStore()
    svc = service(store)
    raw = received(GOOD)
    first = await svc.on_received(raw=raw, meta=meta(1))
    assert types(first) == ["document.decided"] and payload(first[0])["outcome"] == "approve"
    assert await svc.on_received(raw=raw, meta=meta(1)) == first  # not yet marked emitted: re-announced
    await svc.mark_emitted(outbox_ids=[o.outbox_id for o in first if o.outbox_id])
    assert await svc.on_received(raw=raw, meta=meta(1)) == []
    assert await svc.on_received(raw=raw, meta=meta(2)) == []  # re-published upstream: a duplicate
    assert len(store.decisions) == 1
    assert [e.status for e in store.ledger] == ["accepted", "duplicate"]


async def test_review_then_completion_then_a_late_second_completion() -> None:
    store = FakeDocumentStore()
    svc = service(store)
    sent = await svc.on_received(raw=received(GOOD.replace("ACME", "ACME?"), doc_id="d1"), meta=meta(1))
    assert types(sent) == ["review.requested"]
    task_id = payload(sent[0])["task_id"]
    done = ReviewCompleted(task_id=task_id, document_id="d1", reviewer="ann", outcome="approve")
    raw = Envelope[ReviewCompleted](type="review.completed", payload=done).model_dump_json().encode()
    result = await svc.on_review_completed(raw=raw, meta=meta(1, TOPICS.review_completed))
    assert types(result)[-1] == "document.decided" and payload(result[-1])["decided_by"] == "human"
    late = await svc.on_review_completed(raw=raw, meta=meta(2, TOPICS.review_completed))
    assert types(late) == ["document.deadletter"] and "already completed" in payload(late[0])["reason"]
    assert store.tasks[task_id].record.status == "completed" and len(store.decisions) == 1


async def test_bad_input_is_dead_lettered_and_recorded_and_the_service_goes_on() -> None:
    store = FakeDocumentStore()
    svc = service(store)
    for offset, raw in enumerate([b"\xff not json", b'{"type": "x"}', b"[" * 5000 + b"]" * 5000], 1):
        out = await svc.on_received(raw=raw, meta=meta(offset))
        assert types(out) == ["document.deadletter"]
    assert len(store.dead_letters) == 3
    assert types(await svc.on_received(raw=received(GOOD), meta=meta(9))) == ["document.decided"]


async def test_same_id_other_content_is_a_conflict_and_a_duplicate_business_key_goes_to_review() -> None:
    store = FakeDocumentStore()
    svc = service(store)
    await svc.on_received(raw=received(GOOD, doc_id="same"), meta=meta(1))
    conflict = await svc.on_received(raw=received(GOOD + "\nx: y", doc_id="same"), meta=meta(2))
    assert "different content" in payload(conflict[0])["reason"]
    again = await svc.on_received(raw=received(GOOD + "\nnote: again"), meta=meta(3))
    assert types(again) == ["review.requested"] and payload(again[0])["reasons"][0]["code"] == "duplicate"


async def test_a_new_document_at_a_reused_position_is_processed() -> None:
    store = FakeDocumentStore()
    svc = service(store)
    await svc.on_received(raw=received(GOOD.replace("ACME", "A")), meta=meta(1))
    out = await svc.on_received(raw=received(GOOD.replace("ACME", "B")), meta=meta(1))  # broker reset
    assert types(out) == ["document.decided"] and len(store.decisions) == 2
