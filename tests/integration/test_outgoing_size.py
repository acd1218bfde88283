"""Outgoing events within the size budget on real databases (SQLite file and PostgreSQL
schema): what is left out of a message is in the row it names, and an outbox row the
broker can never accept is marked failed and never announced again."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.routing import RoutingPolicy
from agents.service import DocumentService
from autoclerk.bootstrap import Adapters, Database, build_service, open_database
from infra.db.engine import _MIGRATIONS, make_engine, migrate
from infra.db.tables import DeadLetterRow, DecisionRow, OutboxRow, RuleResultRow
from infra.pdf import parse_pdf
from review.scopes import EVERYTHING
from review.tasks import task_detail
from schemas.events import DocumentReceived, Envelope
from schemas.messages import MessageMeta, Outgoing, Topics
from tests.fakes import FakeExtractor, FakeRules, FakeTriage

TOPICS = Topics.with_prefix("t")
BUDGET = 100_000
TRACE_BYTES = 300_000  # the trace alone is three times the budget


@pytest.fixture
async def database(db: tuple[str, str | None]) -> AsyncIterator[Database]:
    url, schema = db
    async with open_database(url, schema=schema) as d:
        yield d


@pytest.fixture
def service(database: Database) -> DocumentService:
    adapters = Adapters(
        triage=FakeTriage(),
        extractor=FakeExtractor(),
        rules=FakeRules(trace_bytes=TRACE_BYTES),
        parse_pdf=lambda b: parse_pdf(data=b),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
    )
    return build_service(
        store=database.store,
        checkpointer=database.checkpointer,
        adapters=adapters,
        topics=TOPICS,
        max_message_bytes=BUDGET,
    )


def received(text: str, *, doc_id: str | None = None) -> bytes:
    payload = DocumentReceived(document_id=doc_id or uuid.uuid4().hex, kind="invoice", text=text)
    return Envelope[DocumentReceived](type="document.received", payload=payload).model_dump_json().encode()


def meta(offset: int) -> MessageMeta:
    return MessageMeta(topic=TOPICS.received, partition=0, offset=offset, epoch="e1")


def payload(msg: Outgoing) -> dict[str, Any]:
    assert len(msg.value) + len(msg.key or b"") <= BUDGET
    return json.loads(msg.value)["payload"]  # type: ignore[no-any-return]


GOOD = "vendor_name: ACME\nissue_date: 2024-01-02\ntotal: 10.00"


async def test_review_request_names_the_stored_trace_and_the_review_ui_reads_it(
    service: DocumentService, database: Database
) -> None:
    [msg] = await service.on_received(raw=received(GOOD.replace("ACME", "ACME?"), doc_id="d1"), meta=meta(1))
    task = payload(msg)
    assert task["rules"]["trace"] == {} and task["rules"]["outcome"] == "approve"
    [trace] = task["omitted"]
    assert trace["path"] == "rules.trace" and trace["size_bytes"] > TRACE_BYTES
    record = trace["record"]
    assert record == {
        "table": RuleResultRow.__tablename__,
        "key": {"document_id": "d1"},
        "size_bytes": None,
        "sha256": None,
    }
    async with AsyncSession(database.engine) as s:  # what the review UI and API show
        view = await task_detail(s, task_id=task["task_id"], low_confidence=0.9, seen=EVERYTHING)
    assert view.rules is not None and len(view.rules["trace"]["graph"]["input"]) == TRACE_BYTES
    assert view.extraction is not None and view.fields


async def test_decision_with_a_huge_field_points_at_the_decision_row(
    service: DocumentService, database: Database
) -> None:
    # Each line within the document limits, together over the message budget.
    notes = {f"note{i}": chr(ord("a") + i) * 9_000 for i in range(20)}
    text = GOOD + "".join(f"\n{k}: {v}" for k, v in notes.items())
    [msg] = await service.on_received(raw=received(text, doc_id="d2"), meta=meta(2))
    decided = payload(msg)
    assert decided["fields"]["total"] == "10.00"
    assert decided["fields"]["note1"] == "b" * 4096 + "…[truncated: 9000 chars]"
    [cut] = decided["omitted"]
    assert (cut["path"], cut["action"]) == ("fields", "truncated")
    assert cut["record"] == {
        "table": "decisions",
        "key": {"document_id": "d2"},
        "size_bytes": None,
        "sha256": None,
    }
    async with database.engine.connect() as c:
        row = (await c.execute(select(DecisionRow.fields).where(DecisionRow.document_id == "d2"))).one()
    assert {k: row.fields[k] for k in notes} == notes


async def test_dead_letter_too_large_to_embed_names_the_row_that_keeps_the_bytes(
    service: DocumentService, database: Database
) -> None:
    raw = received("x" * 90_000)  # over the line limit, and over the budget once in base64
    [msg] = await service.on_received(raw=raw, meta=meta(3))
    letter = payload(msg)
    assert letter["original_omitted"] and letter["original_base64"] == ""
    assert "a line of 90000 characters" in letter["reason"]
    record = letter["original_record"]
    assert record["table"] == DeadLetterRow.__tablename__
    assert record["sha256"] == hashlib.sha256(raw).hexdigest() == record["key"]["content_hash"]
    key = record["key"]
    where = and_(*(getattr(DeadLetterRow, k) == v for k, v in key.items()))
    async with database.engine.connect() as c:
        stored = (await c.execute(select(DeadLetterRow.original).where(where))).scalar_one()
    assert stored == raw and record["size_bytes"] == len(raw)


async def test_an_undeliverable_outbox_row_is_marked_failed_and_never_announced_again(
    service: DocumentService, database: Database
) -> None:
    raw = received(GOOD, doc_id="d4")
    [msg] = await service.on_received(raw=raw, meta=meta(4))
    assert msg.outbox_id is not None
    await service.mark_undeliverable(outbox_ids=[msg.outbox_id], reason="MESSAGE_TOO_LARGE: 2 MB")
    async with database.engine.connect() as c:
        row = (await c.execute(select(OutboxRow).where(OutboxRow.id == msg.outbox_id))).one()
    assert row.failed_at is not None and row.failure == "MESSAGE_TOO_LARGE: 2 MB"
    assert row.emitted_at is None
    # A redelivery (the worker crashed before acknowledging) re-announces nothing.
    assert await service.on_received(raw=raw, meta=meta(4)) == []
    # An emitted row is never marked failed afterwards.
    [other] = await service.on_received(raw=received(GOOD, doc_id="d5"), meta=meta(5))
    assert other.outbox_id is not None
    await service.mark_emitted(outbox_ids=[other.outbox_id])
    await service.mark_undeliverable(outbox_ids=[other.outbox_id], reason="late")
    async with database.engine.connect() as c:
        failed = (await c.execute(select(OutboxRow.failure).where(OutboxRow.id == other.outbox_id))).scalar()
    assert failed is None


def test_migration_0008_goes_down_and_up(db: tuple[str, str | None]) -> None:
    url, schema = db
    migrate(url, schema=schema)
    engine = make_engine(url, schema=schema)
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    try:
        for step in (lambda: command.downgrade(cfg, "0007"), lambda: command.upgrade(cfg, "head")):
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                step()
        with engine.connect() as conn:
            assert conn.execute(select(OutboxRow.failed_at, OutboxRow.failure)).all() == []
    finally:
        engine.dispose()
