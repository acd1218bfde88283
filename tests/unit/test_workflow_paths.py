"""Straight through without the graph, review through it: the same nodes, the same
verdicts, and a checkpoint only for a document that waits for a person."""

from __future__ import annotations

import uuid
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from agents.graph import build_graph, run_straight_through
from agents.routing import RoutingPolicy
from autoclerk.bootstrap import Adapters, build_service, workflow_context
from schemas.document import Document
from schemas.events import DocumentReceived, Envelope
from schemas.messages import MessageMeta, Topics
from tests.fakes import FakeDocumentStore, FakeExtractor, FakeRules, FakeTriage

TOPICS = Topics.with_prefix("w")
APPROVE = "vendor_name: ACME\nissue_date: 2024-01-02\ntotal: 10.00"
REVIEW = APPROVE.replace("ACME", "ACME?")  # FakeExtractor: '?' means low confidence


def adapters() -> Adapters:
    return Adapters(
        triage=FakeTriage(),
        extractor=FakeExtractor(),
        rules=FakeRules(),
        parse_pdf=lambda b: ([], []),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
    )


def initial(text: str, doc_id: str) -> dict[str, Any]:
    doc = Document.from_text(text=text, document_id=doc_id, kind="invoice")
    return {"document": doc.model_dump(mode="json"), "received_at": "2026-01-01T00:00:00+00:00"}


async def test_plain_calls_reach_the_verdicts_the_graph_reaches() -> None:
    ctx = workflow_context(store=FakeDocumentStore(), adapters=adapters())
    for text, outcome in ((APPROVE, "approve"), (REVIEW, "review")):
        doc_id = uuid.uuid4().hex
        graph = build_graph(checkpointer=InMemorySaver())
        config: Any = {"configurable": {"thread_id": doc_id}}
        via_graph = await graph.ainvoke(initial(text, doc_id), config=config, context=ctx)  # type: ignore[arg-type]
        direct = await run_straight_through(initial(text, doc_id), context=ctx)  # type: ignore[arg-type]
        # as the service calls it: the document it parsed, typed, not in the state
        parsed = Document.from_text(text=text, document_id=doc_id, kind="invoice")
        bare: Any = {"received_at": "2026-01-01T00:00:00+00:00"}
        typed = await run_straight_through(bare, context=ctx, document=parsed)
        for run in (direct, typed):
            assert run["route"]["outcome"] == via_graph["route"]["outcome"] == outcome
            for key in ("triage", "extraction", "reference", "rules", "route"):
                assert run[key] == via_graph[key]  # type: ignore[literal-required]
            assert run.get("document") is None
            assert ("decision" in run) == (outcome == "approve")
            if outcome == "approve":
                assert run["decision"] == via_graph["decision"]


async def test_only_a_document_routed_to_review_leaves_a_checkpoint() -> None:
    saver = InMemorySaver()
    svc = build_service(store=FakeDocumentStore(), checkpointer=saver, adapters=adapters(), topics=TOPICS)
    for offset, (text, doc_id) in enumerate(((APPROVE, "straight"), (REVIEW, "waits"))):
        payload = DocumentReceived(document_id=doc_id, kind="invoice", text=text)
        raw = Envelope[DocumentReceived](type="document.received", payload=payload).model_dump_json().encode()
        await svc.on_received(raw=raw, meta=MessageMeta(topic=TOPICS.received, partition=0, offset=offset))
    assert list(saver.list({"configurable": {"thread_id": "straight"}})) == []
    waiting = saver.get_tuple({"configurable": {"thread_id": "waits"}})
    assert waiting is not None
    assert waiting.checkpoint["channel_values"]["route"]["outcome"] == "review"
    assert waiting.checkpoint["channel_values"].get("document") is None  # the text lives in `documents`
