"""LLM retry on real databases (SQLite file and PostgreSQL schema): which tasks it may
take, the atomic supersede / re-route, and reviewers winning every race."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from agents.llm_retry import LlmRetrier
from agents.routing import RoutingPolicy
from agents.service import DocumentService
from autoclerk.bootstrap import Adapters, Database, build_llm_retrier, build_service, open_database
from infra.db.tables import (
    DecisionRow,
    ExtractionRow,
    OutboxRow,
    ReviewEventRow,
    ReviewSubmissionRow,
    ReviewTaskRow,
)
from infra.pdf import parse_pdf
from infra.settings import LlmSettings
from review.audit import document_audit
from review.auth import Principal
from review.commands import BulkApproveTasks
from review.context import ReviewContext
from review.errors import TaskClosed
from review.handlers import bulk_approve
from review.queue import claim, lock_task, release
from review.scopes import EVERYTHING
from schemas.document import Document
from schemas.events import DocumentReceived, Envelope, FieldCorrection, ReviewCompleted
from schemas.fields import Extraction
from schemas.messages import MessageMeta, Outgoing, Topics
from tests.fakes import FakeRules, FakeTriage, OutageExtractor
from tests.review_support import RecordingPublisher

TOPICS = Topics.with_prefix("t")
CLEAR = "vendor_name: ACME\nissue_date: 2024-01-02\ntotal: 10.00"
UNSURE = "vendor_name: ACME?\nissue_date: 2024-01-02\ntotal: 10.00"
LEAD = Principal(username="lead", role="lead", via="session")
ANNA = Principal(username="anna", role="reviewer", via="session")


class HookedExtractor(OutageExtractor):
    """Runs `before(document)` first: a reviewer acting while the LLM answers."""

    def __init__(self) -> None:
        super().__init__(down=True)
        self.before: Any = None

    async def extract(self, document: Document) -> Extraction:
        if self.before is not None and not self.down:
            await self.before(document)
        return await super().extract(document)


class Broker:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def __call__(self, messages: Sequence[Outgoing]) -> None:
        self.sent.extend(messages)


@dataclass
class World:
    db: Database
    service: DocumentService
    retrier: LlmRetrier
    llm: HookedExtractor
    broker: Broker
    offset: int = 0

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(self.db.engine, expire_on_commit=False)

    def meta(self, topic: str) -> MessageMeta:
        self.offset += 1
        return MessageMeta(topic=topic, partition=0, offset=self.offset)

    async def receive(self, text: str) -> str:
        """A document while the LLM is down: returns its review task id."""
        doc_id = uuid.uuid4().hex
        env = Envelope[DocumentReceived](
            type="document.received",
            payload=DocumentReceived(document_id=doc_id, kind="invoice", text=text),
        )
        await self.service.on_received(raw=env.model_dump_json().encode(), meta=self.meta(TOPICS.received))
        return (await self.task_of(doc_id)).task_id

    async def task_of(self, doc_id: str) -> ReviewTaskRow:
        async with self.sessions()() as s:
            q = select(ReviewTaskRow).where(col(ReviewTaskRow.document_id) == doc_id)
            return (await s.execute(q)).scalars().one()

    async def task(self, task_id: str) -> ReviewTaskRow:
        async with self.sessions()() as s:
            row = await s.get(ReviewTaskRow, task_id)
            assert row is not None
            return row

    async def events(self, task_id: str) -> list[tuple[str, str]]:
        async with self.sessions()() as s:
            q = (
                select(ReviewEventRow)
                .where(col(ReviewEventRow.task_id) == task_id)
                .order_by(col(ReviewEventRow.id))
            )
            return [(e.actor, e.action) for e in (await s.execute(q)).scalars()]

    async def complete(self, task: ReviewTaskRow, **corrections: str) -> list[Outgoing]:
        review = ReviewCompleted(
            task_id=task.task_id,
            document_id=task.document_id,
            reviewer="anna",
            outcome="approve",
            corrections=[
                FieldCorrection(field=k, old_value=None, new_value=v) for k, v in corrections.items()
            ],
        )
        env = Envelope[ReviewCompleted](type="review.completed", payload=review)
        raw = env.model_dump_json().encode()
        return await self.service.on_review_completed(raw=raw, meta=self.meta(TOPICS.review_completed))


@pytest.fixture
async def world(db: tuple[str, str | None]) -> AsyncIterator[World]:
    url, schema = db
    async with open_database(url, schema=schema) as d:
        llm = HookedExtractor()
        adapters = Adapters(
            triage=FakeTriage(),
            extractor=llm,
            rules=FakeRules(),
            parse_pdf=lambda b: parse_pdf(data=b),
            routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
        )
        service = build_service(store=d.store, checkpointer=d.checkpointer, adapters=adapters, topics=TOPICS)
        retrier = build_llm_retrier(
            engine=d.engine,
            store=d.store,
            checkpointer=d.checkpointer,
            adapters=adapters,
            topics=TOPICS,
            llm=LlmSettings(model="m", retry_window_s=3600, retry_batch=10),
        )
        yield World(db=d, service=service, retrier=retrier, llm=llm, broker=Broker())


def now() -> datetime:
    return datetime.now(UTC)


async def test_only_untouched_tasks_within_the_window_are_retried(world: World) -> None:
    leased, submitted, released, old, refused, free = [await world.receive(CLEAR) for _ in range(6)]
    sessions = world.sessions()
    async with sessions() as s:
        await claim(s, task_id=leased, reviewer="anna", now=now(), lease_s=600, seen=EVERYTHING)
    async with sessions() as s:
        await claim(s, task_id=released, reviewer="anna", now=now(), lease_s=600, seen=EVERYTHING)
    async with sessions() as s:
        await release(s, task_id=released, actor=ANNA, now=now(), seen=EVERYTHING)
    publisher = RecordingPublisher()
    done = await bulk_approve(
        BulkApproveTasks(task_ids=(submitted,), actor=LEAD, reason="ok", at=now()),
        ctx=ReviewContext(
            sessions=sessions, publisher=publisher, topic=TOPICS.review_completed, low_confidence=0.9
        ),
    )
    assert done == {submitted: "submitted"}
    async with sessions() as s, s.begin():
        await s.execute(
            update(ReviewTaskRow)
            .where(col(ReviewTaskRow.task_id) == old)
            .values(created_at=now() - timedelta(hours=2))
        )
        doc = (await world.task(refused)).document_id
        await s.execute(
            update(ExtractionRow)
            .where(col(ExtractionRow.document_id) == doc)
            .values(failure="llm_refused: no")
        )
    world.llm.down = False
    report = await world.retrier.tick(publish=world.broker)
    assert report.candidates == 1 and report.outcomes == {"superseded": 1}
    assert (await world.task(free)).status == "superseded"
    for task_id in (leased, submitted, released, old, refused):
        row = await world.task(task_id)
        assert row.status == "open" and row.thread_id is None
        assert not [e for e in await world.events(task_id) if e[0] == "system:llm-retry"]


async def test_a_superseded_task_is_decided_once_published_and_audited(world: World) -> None:
    task_id = await world.receive(CLEAR)
    world.llm.down = False
    report = await world.retrier.tick(publish=world.broker)
    assert report.outcomes == {"superseded": 1} and report.published == 1
    row = await world.task(task_id)
    assert row.status == "superseded" and row.completed_at is not None
    async with world.sessions()() as s:
        decision = await s.get(DecisionRow, row.document_id)
        assert decision is not None and decision.decided_by == "auto" and decision.outcome == "approve"
        extraction = await s.get(ExtractionRow, row.document_id)
        assert extraction is not None and extraction.failure is None and extraction.result["fields"]
        unsent = select(OutboxRow).where(
            col(OutboxRow.emitted_at).is_(None), col(OutboxRow.dedupe_key).like("llm-retry:%")
        )
        assert not list((await s.execute(unsent)).scalars())
        audit = await document_audit(s, document_id=row.document_id, seen=EVERYTHING)
    assert [m.topic for m in world.broker.sent] == [TOPICS.decided]
    retried = [e for e in audit.entries if e.actor == "system:llm-retry"]
    assert [e.summary for e in retried] == ["llm_retry_superseded"] and audit.status == "decided"
    # nobody can take it any more, a late completion is refused, and a second round finds nothing
    async with world.sessions()() as s:
        with pytest.raises(TaskClosed, match="superseded"):
            await claim(s, task_id=task_id, reviewer="anna", now=now(), lease_s=600, seen=EVERYTHING)
    late = await world.complete(row)
    assert [m.topic for m in late] == [TOPICS.deadletter]
    again = await world.retrier.tick(publish=world.broker)
    assert again.candidates == 0 and again.relayed == 0


async def test_a_rerouted_task_keeps_its_id_and_is_completed_on_the_new_thread(world: World) -> None:
    task_id = await world.receive(UNSURE)
    before = await world.task(task_id)
    assert before.reasons[0]["code"] == "extraction_failed"
    world.llm.down = False
    report = await world.retrier.tick(publish=world.broker)
    assert report.outcomes == {"rerouted": 1}
    row = await world.task(task_id)
    assert row.status == "open" and row.thread_id and row.thread_id != row.document_id
    assert [r["code"] for r in row.reasons] == ["low_confidence"] and row.primary_reason == "low_confidence"
    assert [m.topic for m in world.broker.sent] == [TOPICS.review_requested]
    assert await world.events(task_id) == [("system:llm-retry", "llm_retry_rerouted")]
    out = await world.complete(row, vendor_name="ACME Corp")
    assert TOPICS.decided in [m.topic for m in out]
    async with world.sessions()() as s:
        decision = await s.get(DecisionRow, row.document_id)
    assert decision is not None and decision.decided_by == "human"
    # the re-extracted fields, with the reviewer's correction on top
    assert decision.fields["vendor_name"] == "ACME Corp" and decision.fields["total"] == "10.00"


async def test_a_reviewer_who_leases_while_the_llm_answers_wins(world: World) -> None:
    task_id = await world.receive(CLEAR)

    async def lease(document: Document) -> None:
        async with world.sessions()() as s:
            await claim(s, task_id=task_id, reviewer="anna", now=now(), lease_s=600, seen=EVERYTHING)

    world.llm.down, world.llm.before = False, lease
    report = await world.retrier.tick(publish=world.broker)
    assert report.outcomes == {"discarded": 1} and not world.broker.sent
    row = await world.task(task_id)
    assert row.status == "open" and row.assignee == "anna" and row.thread_id is None
    async with world.sessions()() as s:
        assert await s.get(DecisionRow, row.document_id) is None
        extraction = await s.get(ExtractionRow, row.document_id)
    assert extraction is not None and (extraction.failure or "").startswith("llm_unavailable")
    assert await world.events(task_id) == [("anna", "leased"), ("system:llm-retry", "llm_retry_discarded")]
    out = await world.complete(row, vendor_name="ACME", issue_date="2024-01-02", total="10.00")
    assert TOPICS.decided in [m.topic for m in out]  # the original workflow, as the reviewer saw it


async def test_a_submission_in_flight_holds_the_retry_off_and_wins(world: World) -> None:
    task_id = await world.receive(CLEAR)
    row = await world.task(task_id)
    world.llm.down = False
    async with world.sessions()() as reviewer:
        # a lead's bulk approve (no lease needed) that has not committed yet
        await reviewer.begin()
        await lock_task(reviewer, task_id=task_id)
        reviewer.add(
            ReviewSubmissionRow(
                task_id=task_id, document_id=row.document_id, reviewer="lead", outcome="approve",
                corrections=[], event_id=uuid.uuid4().hex,
            )
        )  # fmt: skip
        await reviewer.flush()
        retry = asyncio.create_task(world.retrier.tick(publish=world.broker))
        await asyncio.sleep(0.5)  # let the round run up to the lock; the outcome is the same either way
        await reviewer.commit()
    report = await retry
    assert report.outcomes == {"discarded": 1} and not world.broker.sent
    assert (await world.task(task_id)).status == "open"


async def test_a_reviewer_after_the_retry_finds_the_task_closed(world: World) -> None:
    task_id = await world.receive(CLEAR)
    world.llm.down = False
    await world.retrier.tick(publish=world.broker)
    publisher = RecordingPublisher()
    done = await bulk_approve(
        BulkApproveTasks(task_ids=(task_id,), actor=LEAD, reason="ok", at=now()),
        ctx=ReviewContext(
            sessions=world.sessions(), publisher=publisher, topic=TOPICS.review_completed, low_confidence=0.9
        ),
    )
    assert "superseded" in done[task_id] and not publisher.sent
