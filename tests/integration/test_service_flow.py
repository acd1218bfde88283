"""The service layer on real databases (SQLite file and PostgreSQL schema) with fakes
of our own adapters: outcomes, idempotency under redelivery, and bad input."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from agents.routing import RoutingPolicy
from agents.service import DocumentService
from autoclerk.bootstrap import Adapters, Database, build_service, open_database
from infra.db.tables import DeadLetterRow, DecisionRow, IngestLedger, ReviewTaskRow
from infra.pdf import parse_pdf
from schemas.events import DocumentReceived, Envelope, FieldCorrection, ReviewCompleted
from schemas.messages import MessageMeta, Outgoing, Topics
from tests.fakes import FakeExtractor, FakeRules, FakeTriage

TOPICS = Topics.with_prefix("t")
AZURE_PDF = (Path(__file__).resolve().parents[2] / "data" / "invoices" / "AzureInterior.pdf").read_bytes()


def adapters(**triage: Any) -> Adapters:
    return Adapters(
        triage=FakeTriage(**triage),
        extractor=FakeExtractor(),
        rules=FakeRules(),
        parse_pdf=lambda b: parse_pdf(data=b),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
    )


@pytest.fixture
async def database(db: tuple[str, str | None]) -> AsyncIterator[Database]:
    url, schema = db
    async with open_database(url, schema=schema) as d:
        yield d


@pytest.fixture
def service(database: Database) -> DocumentService:
    return build_service(
        store=database.store, checkpointer=database.checkpointer, adapters=adapters(), topics=TOPICS
    )


class Feed:
    """Assigns offsets like a partition would, with broker-style millisecond timestamps
    (64-bit: a 32-bit column overflowed on PostgreSQL)."""

    def __init__(self, *, epoch: str = "") -> None:
        self.offset = 0
        self.epoch = epoch

    def meta(self, topic: str = TOPICS.received) -> MessageMeta:
        self.offset += 1
        now_ms = int(time.time() * 1000)
        return MessageMeta(
            topic=topic, partition=0, offset=self.offset, timestamp_ms=now_ms, epoch=self.epoch
        )


def received(text: str | None = None, *, doc_id: str | None = None, **kw: Any) -> bytes:
    payload = {"document_id": doc_id or uuid.uuid4().hex, "kind": "invoice", **kw}
    if text is not None:
        payload["text"] = text
    return (
        Envelope[DocumentReceived](type="document.received", payload=DocumentReceived.model_validate(payload))
        .model_dump_json()
        .encode()
    )


def decoded(out: list[Outgoing]) -> list[dict[str, Any]]:
    return [json.loads(o.value) for o in out]


GOOD = "vendor_name: ACME\nissue_date: 2024-01-02\ntotal: 10.00"


async def count(database: Database, table: Any) -> int:
    async with database.engine.connect() as c:
        return int((await c.execute(select(func.count()).select_from(table))).scalar_one())


async def test_straight_through_and_reject(service: DocumentService, database: Database) -> None:
    feed = Feed()
    out = decoded(await service.on_received(raw=received(GOOD), meta=feed.meta()))
    assert [o["type"] for o in out] == ["document.decided"]
    assert out[0]["payload"]["outcome"] == "approve"
    assert out[0]["payload"]["fields"]["total"] == "10.00"
    big = GOOD.replace("10.00", "5000.00")
    out = decoded(await service.on_received(raw=received(big), meta=feed.meta()))
    assert out[0]["payload"]["outcome"] == "reject"
    assert out[0]["payload"]["reasons"][0]["code"] == "over_limit"


async def test_redelivery_is_a_no_op_and_reannounces_unsent(
    service: DocumentService, database: Database
) -> None:
    feed = Feed()
    raw, meta = received(GOOD), feed.meta()
    first = await service.on_received(raw=raw, meta=meta)
    again = await service.on_received(raw=raw, meta=meta)  # crash before emit: same offset again
    assert [o.outbox_id for o in again] == [o.outbox_id for o in first]
    await service.mark_emitted(outbox_ids=[o.outbox_id for o in first if o.outbox_id])
    assert await service.on_received(raw=raw, meta=meta) == []
    # the same event re-published upstream (new offset) is deduplicated, not decided twice
    assert await service.on_received(raw=raw, meta=feed.meta()) == []
    assert await count(database, DecisionRow) == 1
    async with database.engine.connect() as c:
        statuses = sorted((await c.execute(select(IngestLedger.status))).scalars())
    assert statuses == ["accepted", "duplicate"]


async def test_review_then_completion_decides_once(service: DocumentService, database: Database) -> None:
    feed = Feed()
    doc_id = "doc-review"
    sent = await service.on_received(
        raw=received(GOOD.replace("ACME", "ACME?"), doc_id=doc_id), meta=feed.meta()
    )
    await service.mark_emitted(outbox_ids=[o.outbox_id for o in sent if o.outbox_id])
    out = decoded(sent)
    assert [o["type"] for o in out] == ["review.requested"]
    task = out[0]["payload"]
    assert task["reasons"][0]["code"] == "low_confidence"
    done = ReviewCompleted(
        task_id=task["task_id"],
        document_id=doc_id,
        reviewer="ann",
        outcome="approve",
        corrections=[FieldCorrection(field="vendor_name", old_value="ACME", new_value="ACME Ltd")],
    )
    raw = Envelope[ReviewCompleted](type="review.completed", payload=done).model_dump_json().encode()
    meta = feed.meta(TOPICS.review_completed)
    out = decoded(await service.on_received(raw=b"x", meta=feed.meta()))  # unrelated bad input
    result = decoded(await service.on_review_completed(raw=raw, meta=meta))
    assert [o["type"] for o in result] == ["document.decided", "feedback.correction"]
    assert result[0]["payload"]["decided_by"] == "human"
    assert result[0]["payload"]["fields"]["vendor_name"] == "ACME Ltd"
    # the same completion redelivered: no second decision
    assert [o["type"] for o in decoded(await service.on_review_completed(raw=raw, meta=meta))] == [
        "document.decided",
        "feedback.correction",
    ]
    # a second, late completion of the same task is refused with a reason
    late = decoded(await service.on_review_completed(raw=raw, meta=feed.meta(TOPICS.review_completed)))
    assert late[0]["type"] == "document.deadletter"
    assert "already completed" in late[0]["payload"]["reason"]
    assert await count(database, DecisionRow) == 1
    async with database.engine.connect() as c:
        status = (await c.execute(select(ReviewTaskRow.status))).scalar_one()
    assert status == "completed"


def _envelope(payload: dict[str, Any], **over: Any) -> bytes:
    env = {
        "event_id": uuid.uuid4().hex,
        "type": "document.received",
        "schema_version": 1,
        "time": "2026-01-01T00:00:00Z",
        "source": "test",
        "payload": payload,
        **over,
    }
    return json.dumps(env).encode()


BAD_INPUTS: dict[str, tuple[bytes, str]] = {
    "non_json": (b"\xff\xfe not json", "not valid JSON"),
    "missing_field": (_envelope({"kind": "invoice", "text": "x"}), "payload.document_id: Field required"),
    "unknown_kind": (_envelope({"document_id": "a", "kind": "memo", "text": "x"}), "payload.kind"),
    "bad_version": (
        _envelope({"document_id": "a", "kind": "invoice", "text": "x"}, schema_version=9),
        "unsupported schema_version 9",
    ),
    "too_large": (
        _envelope({"document_id": "a", "kind": "invoice", "text": "x" * 6_000_000}),
        "exceeds the limit",
    ),
    "bad_pdf": (
        _envelope(
            {
                "document_id": "a",
                "kind": "invoice",
                "pdf_base64": base64.b64encode(b"%PDF-1.4 garbage").decode(),
            }
        ),
        "PDF could not be parsed",
    ),
    "bad_base64": (
        _envelope({"document_id": "a", "kind": "invoice", "pdf_base64": "@@@"}),
        "not valid base64",
    ),
    "empty": (_envelope({"document_id": "a", "kind": "invoice", "text": "  \n "}), "document has no text"),
    "too_much_text": (
        _envelope(
            {"document_id": "a", "kind": "invoice", "text": ("total: 1.00 " + "x" * 340 + "\n") * 1_000}
        ),
        "characters of text, limit 300000",
    ),
    "too_many_lines": (
        _envelope({"document_id": "a", "kind": "invoice", "text": "x\n" * 2_001}),
        "2001 lines, limit 2000",
    ),
    "too_long_a_line": (
        _envelope({"document_id": "a", "kind": "invoice", "text": "total: " + "9" * 10_000}),
        "a line of 10007 characters, limit 10000",
    ),
    "array": (b"[1,2]", "expected a JSON object"),
    "deep_nesting": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    "lone_surrogate": (
        _envelope({"document_id": "a", "kind": "invoice", "text": "Total \ud800 9.00"}),
        "unpaired surrogate",
    ),
    "nul": (_envelope({"document_id": "a", "kind": "invoice", "text": "Total\u0000 9.00"}), "NUL"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
async def test_bad_input_is_dead_lettered_with_reason(
    case: str, service: DocumentService, database: Database
) -> None:
    raw, reason = BAD_INPUTS[case]
    feed = Feed()
    out = decoded(await service.on_received(raw=raw, meta=feed.meta()))
    assert len(out) == 1 and out[0]["type"] == "document.deadletter"
    letter = out[0]["payload"]
    assert reason in letter["reason"]
    # Embedded when the whole dead letter fits the budget; else only the database keeps it.
    assert letter["original_omitted"] is (case == "too_large")
    assert base64.b64decode(letter["original_base64"]) == (b"" if case == "too_large" else raw)
    assert letter["original_size_bytes"] == len(raw)
    # and the service keeps going
    ok = decoded(await service.on_received(raw=received(GOOD), meta=feed.meta()))
    assert ok[0]["type"] == "document.decided"
    assert await count(database, DeadLetterRow) == 1


async def test_document_id_reused_with_other_content_is_dead_lettered(service: DocumentService) -> None:
    feed = Feed()
    await service.on_received(raw=received(GOOD, doc_id="same"), meta=feed.meta())
    out = decoded(await service.on_received(raw=received(GOOD + "\nx: y", doc_id="same"), meta=feed.meta()))
    assert out[0]["type"] == "document.deadletter"
    assert "different content" in out[0]["payload"]["reason"]


async def test_duplicate_business_key_goes_to_review(service: DocumentService) -> None:
    feed = Feed()
    await service.on_received(raw=received(GOOD), meta=feed.meta())
    out = decoded(await service.on_received(raw=received(GOOD + "\nnote: again"), meta=feed.meta()))
    assert out[0]["type"] == "review.requested"
    assert out[0]["payload"]["reasons"][0]["code"] == "duplicate"


async def test_pdf_document_is_parsed_and_kept_for_reviewers(
    service: DocumentService, database: Database
) -> None:
    from infra.db.tables import DocumentRow

    pdf = AZURE_PDF
    raw = _envelope({"document_id": "pdf-1", "kind": "invoice", "pdf_base64": base64.b64encode(pdf).decode()})
    out = decoded(await service.on_received(raw=raw, meta=Feed().meta()))
    assert out[0]["type"] in ("document.decided", "review.requested")
    async with database.engine.connect() as c:
        row = (await c.execute(select(DocumentRow.original_pdf, DocumentRow.text))).one()
    assert row.original_pdf == pdf
    assert "Azure Interior" in row.text or "AZURE INTERIOR" in row.text.upper()
