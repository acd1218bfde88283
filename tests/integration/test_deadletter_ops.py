"""Dead letters end to end on the real embedded broker and SQLite/PostgreSQL: the
worker's service dead-letters consumed bytes; a lead lists, shows, retries (fixed or
as it was) and discards them through the API; a retry that fails again becomes a new
dead letter linked to the old one; reviewers and ingest tokens are refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.routing import RoutingPolicy
from agents.service import DocumentService
from autoclerk.bootstrap import Adapters, build_service
from infra.broker import EmbeddedBroker
from infra.kafka import make_producer
from infra.store import SqlStore
from schemas.messages import MessageMeta, Topics
from tests.fakes import FakeExtractor, FakeRules, FakeTriage
from tests.ops_support import bearer, fresh_topics, ops_app, read_topic, tokens
from tests.review_support import client

GOOD = "vendor_name: ACME\nissue_date: 2024-01-02\ntotal: 10.00"


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


def envelope(doc_id: str, kind: str) -> bytes:
    event = {
        "event_id": f"ev-{doc_id}",
        "type": "document.received",
        "payload": {"document_id": doc_id, "kind": kind, "text": GOOD},
    }
    return json.dumps(event).encode()


def worker(engine: Any, topics: Topics) -> DocumentService:
    adapters = Adapters(
        triage=FakeTriage(),
        extractor=FakeExtractor(),
        rules=FakeRules(),
        parse_pdf=lambda b: ([], []),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
    )
    return build_service(
        store=SqlStore(engine=engine), checkpointer=InMemorySaver(), adapters=adapters, topics=topics
    )


async def consume_into(svc: DocumentService, bootstrap: str, topic: str, *, count: int) -> list[str]:
    """What the worker does with the first `count` records: their outgoing event types."""
    out = []
    for m in await read_topic(bootstrap, topic, count=count):
        meta = MessageMeta(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key)
        out += [json.loads(o.value)["type"] for o in await svc.on_received(raw=m.value, meta=meta)]
    return out


async def test_retry_fixed_and_as_it_was_discard_and_links(
    bootstrap: str, db: tuple[str, str | None]
) -> None:
    url, schema = db
    topics = await fresh_topics(bootstrap)
    producer = make_producer(bootstrap=bootstrap)
    await producer.start()
    for doc in ("d-fix", "d-again", "d-drop"):
        await producer.send_and_wait(topics.received, envelope(doc, "receipt"), key=doc.encode())
    await producer.stop()
    async with ops_app(url, schema, bootstrap=bootstrap, topics=topics) as (app, engine), client(app) as c:
        svc = worker(engine, topics)
        assert await consume_into(svc, bootstrap, topics.received, count=3) == ["document.deadletter"] * 3
        tok = await tokens(engine)
        lead = bearer(tok["lead"])
        listed = (
            await c.get("/api/deadletters", params={"error_type": "UndecodableEvent"}, headers=lead)
        ).json()
        ids = {
            json.loads((await c.get(f"/api/deadletters/{d['id']}", headers=lead)).json()["payload"])[
                "payload"
            ]["document_id"]: d["id"]
            for d in listed
        }
        assert set(ids) == {"d-fix", "d-again", "d-drop"}
        assert (
            await c.get("/api/deadletters", params={"reason": "PAYLOAD.KIND", "status": "open"}, headers=lead)
        ).json()
        assert (await c.get("/api/deadletters", params={"topic": "elsewhere"}, headers=lead)).json() == []
        assert (
            await c.get("/api/deadletters", params={"since": "2999-01-01T00:00:00Z"}, headers=lead)
        ).json() == []

        # a fix that is still wrong is refused with the worker's reason, nothing sent
        shown = (await c.get(f"/api/deadletters/{ids['d-fix']}", headers=lead)).json()
        still_bad = shown["payload"].replace('"receipt"', '"reciept"')
        r = await c.post(f"/api/deadletters/{ids['d-fix']}/retry", json={"payload": still_bad}, headers=lead)
        assert r.status_code == 422 and r.json()["error_type"] == "UndecodableEvent", r.text
        fixed = shown["payload"].replace('"receipt"', '"invoice"')
        r = await c.post(
            f"/api/deadletters/{ids['d-fix']}/retry",
            json={"payload": fixed, "reason": "kind typo"},
            headers=lead,
        )
        assert r.status_code == 202, r.text
        assert r.json()["edited"] and r.json()["event_id"] == "ev-d-fix" and r.json()["offset"] == 3
        again = await c.post(f"/api/deadletters/{ids['d-fix']}/retry", json={}, headers=lead)
        assert again.status_code == 409  # already retried: needs force

        # as it was: it fails again, and the new dead letter points at the old one
        r = await c.post(f"/api/deadletters/{ids['d-again']}/retry", json={}, headers=lead)
        assert r.status_code == 202 and not r.json()["edited"] and r.json()["offset"] == 4
        assert await consume_into(svc, bootstrap, topics.received, count=5) == [
            "document.deadletter",
            "document.deadletter",
            "document.deadletter",  # the first three, re-announced
            "document.decided",
            "document.deadletter",
        ]
        old = (await c.get(f"/api/deadletters/{ids['d-again']}", headers=lead)).json()["dead_letter"]
        assert old["status"] == "retried" and len(old["retried_as"]) == 1
        new = (await c.get(f"/api/deadletters/{old['retried_as'][0]}", headers=lead)).json()["dead_letter"]
        assert new["retry_of"] == ids["d-again"] and new["status"] == "open" and new["offset"] == 4
        [action] = old["actions"]
        assert action["actor"] == "lee" and action["action"] == "retry" and action["offset"] == 4
        forced = await c.post(f"/api/deadletters/{ids['d-again']}/retry", json={"force": True}, headers=lead)
        assert forced.status_code == 202

        # discard needs a reason and keeps the row
        assert (
            await c.post(f"/api/deadletters/{ids['d-drop']}/discard", json={"reason": " "}, headers=lead)
        ).status_code == 422
        assert (
            await c.post(
                f"/api/deadletters/{ids['d-drop']}/discard", json={"reason": "test data"}, headers=lead
            )
        ).status_code == 204
        dropped = (await c.get(f"/api/deadletters/{ids['d-drop']}", headers=lead)).json()["dead_letter"]
        assert dropped["status"] == "discarded" and dropped["actions"][0]["reason"] == "test data"
        assert (
            await c.post(f"/api/deadletters/{ids['d-drop']}/retry", json={}, headers=lead)
        ).status_code == 409
        assert (await c.get("/api/deadletters", params={"status": "discarded"}, headers=lead)).json()[0][
            "id"
        ] == ids["d-drop"]

        # the wrong users: a reviewer and an ingest token see and do nothing
        for who in ("reviewer", "ingest"):
            h = bearer(tok[who])
            assert (await c.get("/api/deadletters", headers=h)).status_code == 403
            assert (await c.get(f"/api/deadletters/{ids['d-fix']}", headers=h)).status_code == 403
            assert (
                await c.post(f"/api/deadletters/{ids['d-drop']}/retry", json={"force": True}, headers=h)
            ).status_code == 403
            assert (
                await c.post(f"/api/deadletters/{ids['d-fix']}/discard", json={"reason": "x"}, headers=h)
            ).status_code == 403
        assert (await c.get("/api/deadletters/999999", headers=lead)).status_code == 404
    # exactly the retries were published: three originals, the fix, the plain retry, the forced one
    assert len(await read_topic(bootstrap, topics.received, count=6, extra_s=1.5)) == 6
