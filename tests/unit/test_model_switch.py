"""A model switch under a document in flight: the document finishes on the models it
started with and its decision records those versions; the next one uses the new models."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from langgraph.checkpoint.memory import InMemorySaver

from agents.routing import RoutingPolicy
from autoclerk.bootstrap import Adapters, build_service, workflow_context
from schemas.document import Document
from schemas.fields import Extraction
from tests.fakes import FakeDocumentStore, FakeExtractor, FakeRules, FakeTriage
from tests.unit.test_service_on_fake_store import GOOD, TOPICS, meta, received


class GatedExtractor(FakeExtractor):
    """Waits for `release` before answering, so a switch can happen mid-document."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def extract(self, document: Document) -> Extraction:
        self.started.set()
        await self.release.wait()
        return await super().extract(document)


async def test_in_flight_document_keeps_its_versions_and_the_next_uses_the_new_ones() -> None:
    store = FakeDocumentStore()
    old, new = GatedExtractor("artifact-a"), FakeExtractor()
    new.version = "artifact-b"
    adapters = Adapters(
        triage=FakeTriage(),
        extractor=old,
        rules=FakeRules(),
        parse_pdf=lambda b: ([], []),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
        model_refs={"extractor": "extractor/1", "triage": "triage/1"},
    )
    svc = build_service(store=store, checkpointer=InMemorySaver(), adapters=adapters, topics=TOPICS)

    first = asyncio.create_task(svc.on_received(raw=received(GOOD, doc_id="d1"), meta=meta(1)))
    await old.started.wait()
    swapped = dataclasses.replace(
        adapters, extractor=new, model_refs={"extractor": "extractor/2", "triage": "triage/1"}
    )
    svc.use_context(workflow_context(store=store, adapters=swapped))
    second = await svc.on_received(raw=received(GOOD.replace("ACME", "OTHER CO"), doc_id="d2"), meta=meta(2))
    old.release.set()
    done = await first

    def decided(out: list) -> dict:  # type: ignore[type-arg]
        return dict(json.loads(out[-1].value)["payload"])

    assert [json.loads(o.value)["type"] for o in done] == ["document.decided"], [o.value for o in done]
    assert decided(done)["model_refs"] == {"extractor": "extractor/1", "triage": "triage/1"}
    assert decided(done)["model_versions"]["extractor"] == "artifact-a"
    assert decided(second)["model_refs"]["extractor"] == "extractor/2"
    assert decided(second)["model_versions"]["extractor"] == "artifact-b"
