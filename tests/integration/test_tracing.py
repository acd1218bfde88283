"""One document through the stream edge and the service (real SQLite, fakes of our own
adapters) with telemetry installed: one trace, one span per stage under the message's
root span, and the stage histograms and outcome counter moved by exactly that document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.telemetry import STAGES, Telemetry, install
from autoclerk.bootstrap import Database, build_service, open_database
from autoclerk.tracing import tracer_for
from schemas.messages import Outgoing
from streams.handler import MessageHandler
from tests.integration.test_service_flow import TOPICS, Feed, adapters, received


@pytest.fixture
def traced() -> Iterator[tuple[Telemetry, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    telemetry = Telemetry(tracer=tracer_for(exporter, batch=False))
    install(telemetry)
    try:
        yield telemetry, exporter
    finally:
        install(None)


@pytest.fixture
async def database(sqlite_url: str) -> AsyncIterator[Database]:
    async with open_database(sqlite_url) as d:
        yield d


async def test_one_document_is_one_trace_with_a_span_per_stage(
    database: Database, traced: tuple[Telemetry, InMemorySpanExporter]
) -> None:
    telemetry, exporter = traced
    service = build_service(
        store=database.store, checkpointer=database.checkpointer, adapters=adapters(), topics=TOPICS
    )
    published: list[Outgoing] = []

    async def publish(messages: Sequence[Outgoing]) -> None:
        published.extend(messages)

    handler = MessageHandler(processor=service, publish=publish, deadletter_topic=TOPICS.deadletter)
    raw = received("INVOICE\nACME Ltd\nDate 2024-03-01\nTotal 12.50", doc_id="traced-1")
    await handler.handle(stage="received", raw=raw, meta=Feed().meta())

    spans = exporter.get_finished_spans()
    roots = [s for s in spans if s.parent is None]
    assert [r.name for r in roots] == ["autoclerk.received"]
    root = roots[0]
    assert root.attributes is not None and root.attributes["autoclerk.document_id"] == "traced-1"
    children = [s for s in spans if s.parent is not None]
    assert sorted(s.name for s in children) == sorted(STAGES)  # each stage exactly once
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in children)
    assert len(published) == 1

    outcomes = {
        tuple(s.labels.values()): s.value
        for m in telemetry.registry.collect()
        if m.name == "autoclerk_documents"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert sum(outcomes.values()) == 1
    counts = {
        s.labels["stage"]: s.value
        for m in telemetry.registry.collect()
        if m.name == "autoclerk_stage_seconds"
        for s in m.samples
        if s.name.endswith("_count")
    }
    assert counts == dict.fromkeys(STAGES, 1.0)
