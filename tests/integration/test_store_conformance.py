"""The same cases against the fake store (tests/fake_store.py) and the SQL store on
SQLite and PostgreSQL: the fake the service-layer unit tests run on cannot drift
from the store the worker runs on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.ports import DocumentStore
from autoclerk.bootstrap import open_database
from schemas.document import Document
from schemas.events import DocumentDecided, DocumentReceived, Envelope, ReviewCompleted, ReviewRequested
from schemas.fields import ExtractedField, Extraction
from schemas.messages import MessageMeta, Outgoing
from schemas.verdicts import RuleReason, RuleResult, TriageResult
from tests.fakes import FakeDocumentStore

TOPIC = "t.documents.received"


@pytest.fixture(params=["fake", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[DocumentStore]:
    if request.param == "fake":
        yield FakeDocumentStore()
        return
    if request.param == "sqlite":
        url, schema = request.getfixturevalue("sqlite_url"), None
    else:
        url, schema = request.getfixturevalue("pg_schema")
    async with open_database(url, schema=schema) as db:
        yield db.store


class Doc:
    """One document as it arrives: its envelope, bytes and parsed form."""

    def __init__(self, text: str = "vendor_name: ACME\ninvoice_number: 7\ntotal: 10.00", **kw: Any) -> None:
        payload = DocumentReceived(document_id=kw.pop("doc_id", uuid.uuid4().hex), kind="invoice", text=text)
        self.env = Envelope[DocumentReceived](type="document.received", payload=payload, **kw)
        self.raw = self.env.model_dump_json().encode()
        self.document = Document.from_text(text=text, document_id=payload.document_id, kind="invoice")
        self.id = payload.document_id


def meta(offset: int, *, epoch: str = "e1", topic: str = TOPIC) -> MessageMeta:
    return MessageMeta(topic=topic, partition=0, offset=offset, timestamp_ms=1_764_633_600_000, epoch=epoch)


def state(invoice_number: str = "7") -> dict[str, Any]:
    fields = {
        "vendor_name": ExtractedField(value="ACME", confidence=0.99),
        "invoice_number": ExtractedField(value=invoice_number, confidence=0.99),
    }
    return {
        "triage": TriageResult(model_version="t", predicted_kind="invoice", risk=0.1).model_dump(mode="json"),
        "extraction": Extraction(kind="invoice", fields=fields, model_version="x").model_dump(mode="json"),
        "rules": RuleResult(rules_version="r", outcome="approve").model_dump(mode="json"),
    }


def decided(doc_id: str, by: str = "auto") -> DocumentDecided:
    return DocumentDecided(document_id=doc_id, kind="invoice", outcome="approve", decided_by=by)  # type: ignore[arg-type]


def out(tag: str) -> Outgoing:
    return Outgoing("t.out", b"k", tag.encode())


async def admit(store: DocumentStore, doc: Doc, m: MessageMeta) -> str:
    return (await store.admit(meta=m, raw=doc.raw, envelope=doc.env, document=doc.document)).status


async def test_new_then_redelivered_before_and_after_the_outcome(store: DocumentStore) -> None:
    doc = Doc()
    assert await admit(store, doc, meta(1)) == "new"
    assert await store.seen_offset(meta=meta(1), raw=doc.raw)
    assert await admit(store, doc, meta(1)) == "resume"  # crashed mid-workflow
    sent = await store.save_decision(
        document_id=doc.id, state=state(), decision=decided(doc.id), message=out("d")
    )
    assert [m.value for m in sent] == [b"d"]
    again = await store.admit(meta=meta(1), raw=doc.raw, envelope=doc.env, document=doc.document)
    assert (again.status, [m.value for m in again.pending]) == ("done", [b"d"])
    await store.mark_emitted(outbox_ids=[m.outbox_id for m in sent if m.outbox_id is not None])
    assert await store.pending(document_id=doc.id) == []
    # saving twice is a no-op that re-announces nothing new
    assert (
        await store.save_decision(
            document_id=doc.id, state=state(), decision=decided(doc.id), message=out("x")
        )
        == []
    )


async def test_resend_is_a_duplicate_and_other_content_a_conflict(store: DocumentStore) -> None:
    doc = Doc()
    await admit(store, doc, meta(1))
    await store.save_decision(document_id=doc.id, state=state(), decision=decided(doc.id), message=out("d"))
    assert await admit(store, doc, meta(2)) == "duplicate"  # same event at a new offset
    assert await admit(store, Doc(doc_id=doc.id), meta(3)) == "duplicate"  # new event, same content
    other = Doc(text="vendor_name: ACME\ntotal: 99.00", doc_id=doc.id)
    assert await admit(store, other, meta(4)) == "conflict"
    reused_event = Doc(event_id=doc.env.event_id)
    assert await admit(store, reused_event, meta(5)) == "conflict"


async def test_resend_of_a_document_without_an_outcome_resumes_it(store: DocumentStore) -> None:
    doc = Doc()
    await admit(store, doc, meta(1))
    assert await admit(store, doc, meta(2)) == "resume"


async def test_other_bytes_at_a_known_position_are_new(store: DocumentStore) -> None:
    first, second = Doc(), Doc()
    await admit(store, first, meta(1))
    assert await admit(store, second, meta(1)) == "new"  # broker reset, same epoch
    assert await admit(store, Doc(), meta(1, epoch="e2")) == "new"
    assert not await store.seen_offset(meta=meta(1), raw=b"other bytes")


async def test_review_task_then_one_completion_wins(store: DocumentStore) -> None:
    doc = Doc()
    await admit(store, doc, meta(1))
    task = ReviewRequested(
        task_id=f"task-{doc.id}",
        document_id=doc.id,
        kind="invoice",
        reasons=[RuleReason(code="low_confidence", message="m")],
        priority=50,
        due_at=datetime(2026, 12, 3, tzinfo=UTC),
    )
    sent = await store.save_review_task(document_id=doc.id, state=state(), task=task, message=out("r"))
    assert [m.value for m in sent] == [b"r"]
    assert await store.save_review_task(document_id=doc.id, state=state(), task=task, message=out("r2")) == [
        sent[0]
    ]
    record = await store.task(task_id=task.task_id)
    assert record is not None and (record.status, record.document_id, record.thread_id) == (
        "open",
        doc.id,
        None,
    )
    assert await store.task(task_id="nope") is None
    review = ReviewCompleted(task_id=task.task_id, document_id=doc.id, reviewer="ann", outcome="approve")
    raw = b"completion-1"
    won = await store.complete_review(
        meta=meta(1, topic="t.review.completed"),
        raw=raw,
        review=review,
        decision=decided(doc.id, "human"),
        messages=[out("c")],
    )
    assert won is not None and [m.value for m in won][-1] == b"c"
    assert await store.seen_offset(meta=meta(1, topic="t.review.completed"), raw=raw)
    lost = await store.complete_review(
        meta=meta(2, topic="t.review.completed"),
        raw=b"completion-2",
        review=review,
        decision=decided(doc.id, "human"),
        messages=[out("c2")],
    )
    assert lost is None
    record = await store.task(task_id=task.task_id)
    assert record is not None and record.status == "completed"


async def test_dead_letters_are_idempotent_per_message(store: DocumentStore) -> None:
    m = meta(9)
    first = await store.dead_letter(meta=m, raw=b"bad 1", reason="r", error_type="E", message=out("dl1"))
    again = await store.dead_letter(meta=m, raw=b"bad 1", reason="r", error_type="E", message=out("dl1"))
    assert [x.value for x in first] == [x.value for x in again] == [b"dl1"]
    assert await store.seen_offset(meta=m, raw=b"bad 1")
    other = await store.dead_letter(meta=m, raw=b"bad 2", reason="r", error_type="E", message=out("dl2"))
    assert [x.value for x in other] == [b"dl2"]  # other bytes at the same position: recorded too


async def test_undeliverable_messages_are_never_announced_again(store: DocumentStore) -> None:
    doc = Doc()
    await admit(store, doc, meta(1))
    sent = await store.save_decision(
        document_id=doc.id, state=state(), decision=decided(doc.id), message=out("d")
    )
    await store.mark_undeliverable(
        outbox_ids=[m.outbox_id for m in sent if m.outbox_id is not None], reason="big"
    )
    assert await store.pending(document_id=doc.id) == []


async def test_business_key_finds_the_earlier_document(store: DocumentStore) -> None:
    first, second = Doc(), Doc(text="vendor_name: ACME\ninvoice_number: 7\ntotal: 10.00\nnote: again")
    await admit(store, first, meta(1))
    await store.save_decision(
        document_id=first.id, state=state(), decision=decided(first.id), message=out("d")
    )
    await admit(store, second, meta(2))
    extraction = Extraction.model_validate(state()["extraction"])
    facts = await store.reference_facts(extraction=extraction, document_id=second.id)
    assert facts.duplicate_of == first.id
    assert (await store.reference_facts(extraction=extraction, document_id=first.id)).duplicate_of is None
    assert facts.vendor is None and facts.purchase_order is None
    await store.save_decision(
        document_id=second.id, state=state(), decision=decided(second.id), message=out("d2")
    )
    # a replay of the first must not find the later one: only earlier documents are duplicates of it
    assert (await store.reference_facts(extraction=extraction, document_id=first.id)).duplicate_of is None
