"""Replay on real databases (SQLite file, PostgreSQL schema) and the real embedded
broker: live replay supersedes with the link, the event and the task closed; reviewers'
decisions stay theirs; shadow replay emits nothing and its diff adds up by hand; a
crash mid-replay resumes with every document replayed once; bad input is refused
before anything is written or published. Models are fakes of our own interfaces."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from agents.errors import CandidateUnavailable, EmptySelection, OffsetsNotInLedger, ReplayError
from agents.routing import RoutingPolicy
from agents.service import DocumentService
from autoclerk.bootstrap import Adapters, Database, build_service, open_database
from autoclerk.replay import ReplayOutcome, ReplayRequest, run_replay
from infra.broker import EmbeddedBroker
from infra.db.tables import (
    DecisionHistoryRow,
    DecisionRow,
    OutboxRow,
    ReplayRow,
    ReviewEventRow,
    ReviewTaskRow,
)
from infra.kafka import ensure_topics, make_consumer
from infra.pdf import parse_pdf
from infra.settings import Settings
from schemas.document import Document
from schemas.events import DocumentReceived, Envelope, FieldCorrection, ReviewCompleted
from schemas.fields import Extraction
from schemas.messages import MessageMeta, Topics
from schemas.replay import ReplayOptions, ReplaySelection
from tests.fakes import FakeExtractor, FakeRules, FakeTriage
from tests.faults.ledger import check_ledger

BEFORE = FakeRules(limit=1000, review_over=700)  # over 1000 reject, over 700 review
FIXED = FakeRules(limit=3000)  # the rule fix: up to 3000 approved


def invoice(total: str, vendor: str = "ACME") -> str:
    number = uuid.uuid4().hex[:8]
    return f"vendor_name: {vendor}\ninvoice_number: {number}\nissue_date: 2024-01-02\ntotal: {total}"


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


@dataclass
class World:
    db: Database
    url: str
    schema: str | None
    bootstrap: str
    topics: Topics
    prefix: str
    service: DocumentService
    published: list[bytes] = field(default_factory=list)

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(self.db.engine, expire_on_commit=False)

    async def receive(self, text: str, vendor: str = "ACME") -> str:
        doc_id = uuid.uuid4().hex[:12]
        env = Envelope[DocumentReceived](
            type="document.received", payload=DocumentReceived(document_id=doc_id, kind="invoice", text=text)
        )
        raw = env.model_dump_json().encode()
        meta = MessageMeta(topic=self.topics.received, partition=0, offset=len(self.published))
        self.published.append(raw)
        await self.service.on_received(raw=raw, meta=meta)
        return doc_id

    async def complete(self, doc_id: str, outcome: str = "approve", **corrections: str) -> None:
        task = await self.open_task(doc_id)
        assert task is not None
        review = ReviewCompleted(
            task_id=task.task_id,
            document_id=doc_id,
            reviewer="anna",
            outcome=outcome,  # type: ignore[arg-type]
            reject_kind="business" if outcome == "reject" else None,
            corrections=[
                FieldCorrection(field=k, old_value=None, new_value=v) for k, v in corrections.items()
            ],
        )
        raw = Envelope[ReviewCompleted](type="review.completed", payload=review).model_dump_json().encode()
        meta = MessageMeta(topic=self.topics.review_completed, partition=0, offset=uuid.uuid4().int % 10**9)
        assert await self.service.on_review_completed(raw=raw, meta=meta)

    async def open_task(self, doc_id: str) -> ReviewTaskRow | None:
        async with self.sessions()() as s:
            q = select(ReviewTaskRow).where(
                col(ReviewTaskRow.document_id) == doc_id, col(ReviewTaskRow.status) == "open"
            )
            return (await s.execute(q)).scalars().first()

    async def decision(self, doc_id: str) -> DecisionRow | None:
        async with self.sessions()() as s:
            return await s.get(DecisionRow, doc_id)

    async def count(self, table: Any, *where: Any) -> int:
        async with self.sessions()() as s:
            return int((await s.execute(select(func.count()).select_from(table).where(*where))).scalar_one())

    def settings(self) -> Settings:
        return Settings(
            kafka={"bootstrap": self.bootstrap, "topic_prefix": self.prefix},  # type: ignore[arg-type]
            db={"url": self.url},  # type: ignore[arg-type]
        )

    async def replay(
        self,
        mode: str,
        *,
        rules: FakeRules = FIXED,
        extractor: Any = None,
        replay_id: str | None = None,
        options: ReplayOptions | None = None,
        concurrency: int = 4,
        **selection: Any,
    ) -> ReplayOutcome:
        request = ReplayRequest(
            mode,  # type: ignore[arg-type]
            ReplaySelection(**selection),
            options or ReplayOptions(),
            replay_id=replay_id,
            concurrency=concurrency,
        )
        return await run_replay(
            self.settings(), request, stop=asyncio.Event(), progress=lambda _: None,
            database=self.db, adapters=adapters(rules, extractor or FakeExtractor()),
        )  # fmt: skip

    async def events(self, topic: str) -> list[dict[str, Any]]:
        """Everything on `topic` so far, decoded."""
        consumer = make_consumer(topic, bootstrap=self.bootstrap, group_id=None)
        await consumer.start()
        out: list[dict[str, Any]] = []
        try:
            for _ in range(4):  # until a quiet poll: tansu's end offsets cannot be trusted
                batch = await consumer.getmany(timeout_ms=500)
                got = [json.loads(m.value) for ms in batch.values() for m in ms]
                if not got and out:
                    break
                out += got
        finally:
            await consumer.stop()
        return out


def adapters(rules: FakeRules, extractor: Any) -> Adapters:
    return Adapters(
        triage=FakeTriage(),
        extractor=extractor,
        rules=rules,
        parse_pdf=lambda b: parse_pdf(data=b),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
    )


@pytest.fixture
async def world(db: tuple[str, str | None], broker: EmbeddedBroker) -> AsyncIterator[World]:
    url, schema = db
    prefix = f"r{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    await ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=1)
    async with open_database(url, schema=schema) as d:
        service = build_service(
            store=d.store,
            checkpointer=d.checkpointer,
            adapters=adapters(BEFORE, FakeExtractor()),
            topics=topics,
        )
        yield World(d, url, schema, broker.bootstrap, topics, prefix, service)


async def test_live_replay_after_a_rule_fix_supersedes_links_and_closes_the_task(world: World) -> None:
    rejected = await world.receive(invoice("1500.00"))
    approved = await world.receive(invoice("500.00"))
    waiting = await world.receive(invoice("800.00"))
    reviewed = await world.receive(invoice("900.00"))
    await world.complete(reviewed, "reject")
    first = await world.decision(rejected)
    assert first is not None and first.outcome == "reject"
    first_task = await world.open_task(waiting)
    assert first_task is not None

    done = await world.replay("live", kind="invoice")

    assert done.finished and done.results == Counter(superseded=2, unchanged=1, **{"skipped:reviewed": 1})
    new = await world.decision(rejected)
    assert new is not None and new.outcome == "approve" and new.replay_id == done.replay_id
    async with world.sessions()() as s:
        old = await s.get(DecisionHistoryRow, new.supersedes_id)
        assert old is not None and (old.document_id, old.outcome, old.decided_by) == (
            rejected,
            "reject",
            "auto",
        )
        assert old.model_refs == first.model_refs  # the versions that made it stay on record
        task = await s.get(ReviewTaskRow, first_task.task_id)
        assert task is not None and task.status == "superseded"
        audit = (
            await s.execute(select(ReviewEventRow).where(col(ReviewEventRow.task_id) == task.task_id))
        ).scalars()
        assert [(e.actor, e.action) for e in audit] == [("system:replay", "replay_superseded")]
    assert (await world.decision(waiting)).outcome == "approve"  # type: ignore[union-attr]
    human = await world.decision(reviewed)
    assert human is not None and (human.decided_by, human.outcome, human.replay_id) == (
        "human",
        "reject",
        None,
    )
    assert (await world.decision(approved)).replay_id is None  # type: ignore[union-attr]

    events = await world.events(world.topics.decided)
    superseded = {
        e["payload"]["document_id"]: e["payload"] for e in events if e["type"] == "decision.superseded"
    }
    assert set(superseded) == {rejected, waiting}
    assert superseded[rejected]["previous_decision"] == new.supersedes_id
    assert superseded[rejected]["previous_outcome"] == "reject"
    assert superseded[waiting]["closed_task_id"] == first_task.task_id
    # the service's own outbox rows are the edge's to publish; here only the replay publishes
    replayed = [e["payload"]["document_id"] for e in events if e["type"] == "document.decided"]
    assert Counter(replayed) == Counter({rejected: 1, waiting: 1})
    mine = col(OutboxRow.dedupe_key).like(f"replay:{done.replay_id}:%")
    assert await world.count(OutboxRow, mine) == 4
    assert await world.count(OutboxRow, mine, col(OutboxRow.emitted_at).is_(None)) == 0

    again = await world.replay("live", replay_id=done.replay_id)
    assert again.results == Counter() and again.done_before == 4
    ledger = check_ledger(db_url=world.url, published=world.published, schema=world.schema)
    ledger.assert_nothing_lost()
    assert (ledger.decided, ledger.in_review) == (4, 0)


async def test_reviewed_decision_goes_to_review_again_only_with_the_flag(world: World) -> None:
    reviewed = await world.receive(invoice("900.00"))
    old_task = await world.open_task(reviewed)
    await world.complete(reviewed, "approve", total="950.00")

    done = await world.replay("live", document_ids=[reviewed], options=ReplayOptions(include_reviewed=True))

    assert done.results == Counter(superseded=1)
    assert await world.decision(reviewed) is None  # not overwritten: a person decides again
    task = await world.open_task(reviewed)
    assert task is not None and old_task is not None and task.task_id != old_task.task_id
    assert task.primary_reason == "replay_rereview"
    async with world.sessions()() as s:
        history = (await s.execute(select(DecisionHistoryRow))).scalars().one()
        assert (history.decided_by, history.reviewer, history.fields["total"]) == ("human", "anna", "950.00")
    events = await world.events(world.topics.decided)
    [gone] = [e["payload"] for e in events if e["type"] == "decision.superseded"]
    assert (gone["replacement"], gone["previous_decided_by"]) == ("review", "human")
    requested = await world.events(world.topics.review_requested)
    assert [e["payload"]["task_id"] for e in requested][-1] == task.task_id
    ledger = check_ledger(db_url=world.url, published=world.published, schema=world.schema)
    ledger.assert_nothing_lost()
    assert ledger.in_review == 1

    await world.complete(reviewed, "reject")  # the new task resumes the replay's workflow
    again = await world.decision(reviewed)
    assert again is not None and (again.decided_by, again.outcome) == ("human", "reject")


class Crash(BaseException):
    """The process dying mid-replay: nothing absorbs it."""


class CrashingExtractor(FakeExtractor):
    def __init__(self, *, crash_on: int | None) -> None:
        self.calls, self.crash_on = 0, crash_on

    async def extract(self, document: Document) -> Extraction:
        self.calls += 1
        if self.calls == self.crash_on:
            raise Crash()
        return await super().extract(document)


async def test_crash_mid_replay_then_resume_replays_each_document_once(world: World) -> None:
    ids = [await world.receive(invoice("1500.00")) for _ in range(6)]
    replay_id = "live-crash-test"
    crashing = CrashingExtractor(crash_on=4)
    with pytest.raises(Crash):
        await world.replay("live", extractor=crashing, replay_id=replay_id, concurrency=1, document_ids=ids)
    async with world.sessions()() as s:
        assert (await s.get(ReplayRow, replay_id)).status == "running"  # type: ignore[union-attr]

    resumed = CrashingExtractor(crash_on=None)
    done = await world.replay("live", extractor=resumed, replay_id=replay_id, concurrency=1)

    assert done.finished and done.done_before == 3 and done.results == Counter(superseded=3)
    assert resumed.calls == 3
    keys = f"replay:{replay_id}:decided:%"
    assert await world.count(OutboxRow, col(OutboxRow.dedupe_key).like(keys)) == 6
    async with world.sessions()() as s:
        per_doc = Counter((await s.execute(select(DecisionHistoryRow.document_id))).scalars())
    assert per_doc == Counter({d: 1 for d in ids})
    for d in ids:
        assert (await world.decision(d)).outcome == "approve"  # type: ignore[union-attr]
    events = await world.events(world.topics.decided)
    assert Counter(
        e["payload"]["document_id"] for e in events if e["type"] == "decision.superseded"
    ) == Counter({d: 1 for d in ids})


async def test_shadow_replay_emits_nothing_and_its_diff_is_right(world: World) -> None:
    rejected = await world.receive(invoice("1500.00"))
    approved = await world.receive(invoice("500.00"))
    labelled = await world.receive(invoice("900.00"))
    await world.complete(labelled, "approve", total="950.00")  # the model read 900.00
    waiting = await world.receive(invoice("800.00"))
    decided_before = await world.events(world.topics.decided)
    outbox_before = await world.count(OutboxRow)

    done = await world.replay("shadow", kind="invoice")

    report = done.report
    assert report is not None and done.results == Counter(shadow=4)
    assert report.documents == 4 and report.failed == 0
    assert report.straight_through_before == 0.5  # rejected, approved
    assert report.straight_through_after == 1.0  # the fixed rules decide all four
    assert {r.document_id: (r.before, r.after) for r in report.decisions_changed} == {
        rejected: ("reject", "approve"),
        labelled: ("review", "approve"),
        waiting: ("review", "approve"),
    }
    assert report.error_before.straight_through == 0 and report.error_before.field_wrong == 1
    after = report.error_after
    assert (after.labelled, after.straight_through, after.wrong_straight_through) == (1, 1, 1)
    [row] = [r for r in report.rows if r.document_id == labelled]
    assert (row.label, row.wrong_after) == ("approve", ["total"])
    assert report.candidate["rules"] == FIXED.version and report.cost_usd == 0
    assert approved not in {r.document_id for r in report.decisions_changed}
    # nothing decided, nothing published
    assert (await world.decision(rejected)).outcome == "reject"  # type: ignore[union-attr]
    assert await world.open_task(waiting) is not None
    assert await world.count(OutboxRow) == outbox_before
    assert len(await world.events(world.topics.decided)) == len(decided_before)
    assert await world.count(DecisionHistoryRow) == 0


async def test_selection_by_ledger_offsets_vendor_and_outcome(world: World) -> None:
    a = await world.receive(invoice("1500.00", vendor="Acme  Ltd"))  # offset 0
    b = await world.receive(invoice("1600.00", vendor="Other"))  # 1
    c = await world.receive(invoice("500.00", vendor="ACME LTD"))  # 2
    by_offsets = await world.replay(
        "shadow", topic=world.topics.received, partition=0, from_offset=1, to_offset=2
    )
    assert {r.document_id for r in by_offsets.report.rows} == {b, c}  # type: ignore[union-attr]
    by_vendor = await world.replay("shadow", vendor="acme ltd")
    assert {r.document_id for r in by_vendor.report.rows} == {a, c}  # type: ignore[union-attr]
    by_outcome = await world.replay("shadow", outcome="reject")
    assert {r.document_id for r in by_outcome.report.rows} == {a, b}  # type: ignore[union-attr]


async def test_bad_input_is_refused_before_anything_is_written(world: World, tmp_path: Any) -> None:
    await world.receive(invoice("1500.00"))
    outbox = await world.count(OutboxRow)
    received = world.topics.received
    cases: list[tuple[type[ReplayError], str, dict[str, Any]]] = [
        (EmptySelection, "say which documents", {}),
        (EmptySelection, "no document matched", {"kind": "claim"}),
        (
            EmptySelection,
            "empty time range",
            {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        ),
        (EmptySelection, "no such document", {"document_ids": ["nope"]}),
        (OffsetsNotInLedger, "no messages of", {"topic": "elsewhere", "partition": 0, "from_offset": 0}),
        (
            OffsetsNotInLedger,
            "has offsets 0..0",
            {"topic": received, "partition": 0, "from_offset": 0, "to_offset": 9},
        ),
        (OffsetsNotInLedger, "asked for 3..0", {"topic": received, "partition": 0, "from_offset": 3}),
    ]
    for error, message, selection in cases:
        with pytest.raises(error, match=message):
            await world.replay("live", **selection)
    candidates = [
        (ReplayOptions(rules=str(tmp_path / "missing")), "not a directory"),
        (ReplayOptions(thresholds=str(tmp_path / "t.json")), "no such file"),
        (ReplayOptions(extractor="extractor/v-does-not-exist"), "extractor/v-does-not-exist"),
    ]
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.json").write_text("{not json")
    candidates.append((ReplayOptions(rules=str(tmp_path / "broken")), "cannot load"))
    for options, message in candidates:
        with pytest.raises(CandidateUnavailable, match=message):
            await world.replay("shadow", options=options, kind="invoice")
    assert await world.count(ReplayRow) == 0
    assert await world.count(OutboxRow) == outbox
    assert not [e for e in await world.events(world.topics.decided) if e["type"] == "decision.superseded"]
