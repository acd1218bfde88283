"""POST /api/documents against the real embedded broker and the review app on SQLite
and PostgreSQL: accepted documents land on the topic as the worker decodes them, every
refusal answers the right 4xx and publishes nothing, and only an ingest token ingests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.decode import parse_document
from infra.broker import EmbeddedBroker
from review.inbound import Inbound
from tests.ops_support import bearer, fresh_topics, ops_app, read_topic, tokens
from tests.review_support import client, make_settings

PDF = Path(__file__).resolve().parents[2] / "data" / "invoices" / "oyo.pdf"


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


def payload(doc_id: str, text: str = "INVOICE\nACME Ltd\nTotal 12.50") -> dict[str, object]:
    return {"document_id": doc_id, "kind": "invoice", "text": text}


def worker_decodes(raw: bytes, prefix: str) -> str:
    """What the worker does first with the consumed bytes; returns the document id."""
    inbound = Inbound.from_settings(make_settings(prefix))
    env = inbound.received(raw)
    parse_document(env.payload, parse_pdf=inbound.parse_pdf, limits=inbound.limits)
    return env.payload.document_id


async def test_accepted_documents_land_on_the_topic_once(bootstrap: str, db: tuple[str, str | None]) -> None:
    url, schema = db
    topics = await fresh_topics(bootstrap)
    prefix = topics.received.removesuffix(".documents.received")
    async with ops_app(url, schema, bootstrap=bootstrap, topics=topics) as (app, engine), client(app) as c:
        tok = (await tokens(engine))["ingest"]
        # a bare payload, with an idempotency key: sent twice, published once, same answer
        key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
        first = await c.post("/api/documents", json=payload("d-bare"), headers=bearer(tok, **key))
        assert first.status_code == 202, first.text
        again = await c.post("/api/documents", json=payload("d-bare"), headers=bearer(tok, **key))
        assert again.status_code == 202 and again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        other = await c.post("/api/documents", json=payload("d-other"), headers=bearer(tok, **key))
        assert other.status_code == 422 and other.json()["error"] == "KeyReused"
        # a full envelope, as the topic's JSON Schema describes it
        envelope = {"event_id": "ev-envelope-1", "type": "document.received", "payload": payload("d-env")}
        r = await c.post("/api/documents", json=envelope, headers=bearer(tok))
        assert r.status_code == 202 and r.json()["event_id"] == "ev-envelope-1"
        # CloudEvents, structured and binary mode
        structured = {
            "specversion": "1.0",
            "id": "ce-structured-1",
            "source": "/erp",
            "type": "document.received",
            "correlationid": "corr-1",
            "data": payload("d-ce1"),
        }
        ce_headers = bearer(tok, **{"Content-Type": "application/cloudevents+json"})
        r = await c.post("/api/documents", content=json.dumps(structured), headers=ce_headers)
        assert r.status_code == 202, r.text
        binary = bearer(
            tok,
            **{
                "ce-specversion": "1.0",
                "ce-id": "ce-binary-1",
                "ce-source": "/erp",
                "ce-type": "document.received",
                "Content-Type": "application/json",
            },
        )
        r = await c.post("/api/documents", content=json.dumps(payload("d-ce2")), headers=binary)
        assert r.status_code == 202, r.text
        # a PDF by multipart
        form = {"document_id": "d-pdf", "kind": "invoice", "metadata": json.dumps({"erp": "x1"})}
        files = {"file": ("oyo.pdf", PDF.read_bytes(), "application/pdf")}
        r = await c.post("/api/documents", data=form, files=files, headers=bearer(tok))
        assert r.status_code == 202, r.text
    # the replayed and the refused requests were sent before d-env: one ordered log with
    # nothing between the five accepted documents means nothing else was published
    records = await read_topic(bootstrap, topics.received, count=5)
    assert [m.offset for m in records] == [0, 1, 2, 3, 4]
    assert [worker_decodes(m.value, prefix) for m in records] == [
        "d-bare",
        "d-env",
        "d-ce1",
        "d-ce2",
        "d-pdf",
    ]
    assert first.json()["offset"] == records[0].offset and first.json()["topic"] == topics.received
    events = [json.loads(m.value) for m in records]
    assert events[2]["event_id"] == "ce-structured-1" and events[2]["correlation_id"] == "corr-1"
    assert events[3]["event_id"] == "ce-binary-1" and events[3]["source"] == "/erp"
    assert events[4]["payload"]["metadata"] == {"erp": "x1"}
    assert all(m.key == json.loads(m.value)["payload"]["document_id"].encode() for m in records)


async def test_refusals_answer_4xx_with_the_dead_letter_reasons_and_publish_nothing(
    bootstrap: str, db: tuple[str, str | None]
) -> None:
    url, schema = db
    topics = await fresh_topics(bootstrap)
    async with ops_app(url, schema, bootstrap=bootstrap, topics=topics) as (app, engine), client(app) as c:
        tok = await tokens(engine)
        good = payload("d-good")
        cases: list[tuple[int, dict[str, object], str | None]] = []

        async def post(expect: int, error_type: str | None = None, **kw: object) -> None:
            r = await c.post("/api/documents", **kw)  # type: ignore[arg-type]
            assert r.status_code == expect, (kw.get("headers"), r.status_code, r.text)
            if error_type:
                assert r.json()["error_type"] == error_type, r.text
            cases.append((expect, {}, error_type))

        await post(401, json=good)
        await post(401, json=good, headers=bearer("ac_not-a-token"))
        for who in ("reviewer", "lead", "admin"):  # a review token cannot ingest, whatever the role
            await post(403, json=good, headers=bearer(tok[who]))
        big = {"document_id": "d-big", "kind": "invoice", "text": "x" * 1_100_000}
        await post(413, json=big, headers=bearer(tok["ingest"]))
        await post(
            400,
            "UndecodableEvent",
            content=b"{not json",
            headers=bearer(tok["ingest"], **{"Content-Type": "application/json"}),
        )
        await post(
            422,
            "UndecodableEvent",
            json={"document_id": "d", "kind": "receipt", "text": "x"},
            headers=bearer(tok["ingest"]),
        )
        await post(
            422,
            "UndecodableEvent",
            json={"document_id": "../x", "kind": "invoice", "text": "x"},
            headers=bearer(tok["ingest"]),
        )
        await post(
            422,
            "UnsupportedVersion",
            json={"type": "document.received", "schema_version": 9, "payload": good},
            headers=bearer(tok["ingest"]),
        )
        await post(
            422, "EmptyDocument", json=payload("d-empty", text="   \n  "), headers=bearer(tok["ingest"])
        )
        lines = "\n".join(f"line {i}" for i in range(3000))
        await post(
            413, "DocumentTooLarge", json=payload("d-lines", text=lines), headers=bearer(tok["ingest"])
        )
        not_pdf = {"file": ("x.pdf", b"not a pdf at all", "application/pdf")}
        await post(
            422,
            "UnreadableDocument",
            data={"document_id": "d-x", "kind": "invoice"},
            files=not_pdf,
            headers=bearer(tok["ingest"]),
        )
        await post(
            422,
            "UndecodableEvent",
            data={"document_id": "d-x", "kind": "invoice"},
            files={"other": ("a", b"a")},
            headers=bearer(tok["ingest"]),
        )
        ce_wrong = bearer(
            tok["ingest"],
            **{
                "ce-specversion": "1.0",
                "ce-id": "1",
                "ce-source": "/s",
                "ce-type": "something.else",
                "Content-Type": "application/json",
            },
        )
        await post(422, "UndecodableEvent", content=json.dumps(good), headers=ce_wrong)
        ce_broken = bearer(tok["ingest"], **{"Content-Type": "application/cloudevents+json"})
        await post(400, "UndecodableEvent", content=b'{"id": 1}', headers=ce_broken)
        await post(415, content=b"hello", headers=bearer(tok["ingest"], **{"Content-Type": "text/plain"}))
        # the sentinel: once it is read, anything published before it would have been too
        r = await c.post("/api/documents", json=good, headers=bearer(tok["ingest"]))
        assert r.status_code == 202
        # an ingest token reviews nothing
        assert (await c.get("/api/tasks", headers=bearer(tok["ingest"]))).status_code == 403
        assert (await c.get("/api/deadletters", headers=bearer(tok["ingest"]))).status_code == 403
    assert len(cases) == 17
    # one partition: the sentinel at offset 0 means no refused request published anything
    [first] = await read_topic(bootstrap, topics.received, count=1)
    assert first.offset == 0 and json.loads(first.value)["payload"]["document_id"] == "d-good"
