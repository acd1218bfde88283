"""The LLM retry round on fakes of our own interfaces: which tasks it takes, when it
stops, and what it publishes and records for each outcome."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.graph import build_graph
from agents.llm_retry import ACTOR, LlmRetrier, RetryConfig
from agents.routing import RoutingPolicy
from agents.state import WorkflowContext
from schemas.document import Document
from schemas.messages import Outgoing, Topics
from schemas.retry import RetryCandidate
from schemas.verdicts import ReferenceFacts
from tests.fakes import FakeRetryStore, FakeRules, FakeTriage, OutageExtractor

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOPICS = Topics.with_prefix("t")
CLEAR = "vendor_name: ACME\nissue_date: 2024-01-02\ntotal: 10.00"
UNSURE = "vendor_name: ACME?\nissue_date: 2024-01-02\ntotal: 10.00"
FAILURE = "llm_unavailable: no answer within 1s (3 attempts)"


def candidate(
    n: int, *, text: str = CLEAR, age: timedelta = timedelta(minutes=10), failure: str = FAILURE
) -> RetryCandidate:
    doc_id = f"doc-{n}"
    return RetryCandidate(
        task_id=f"task-{n}",
        document_id=doc_id,
        created_at=NOW - age,
        received_at=NOW - age,
        thread_id=doc_id,
        correlation_id=f"corr-{n}",
        failure=failure,
        document=Document.from_text(document_id=doc_id, kind="invoice", text=text),
    )


class Broker:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.fail = False

    async def __call__(self, messages: Sequence[Outgoing]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.extend(messages)


async def _no_facts(extraction: Any, document_id: str) -> ReferenceFacts:
    return ReferenceFacts()


def retrier(
    store: FakeRetryStore,
    extractor: OutageExtractor,
    *,
    batch: int = 10,
    saver: InMemorySaver | None = None,
    retryable: tuple[type[BaseException], ...] = (),
) -> LlmRetrier:
    context = WorkflowContext(
        triage=FakeTriage(),
        extractor=extractor,
        rules=FakeRules(),
        reference=_no_facts,
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
        clock=lambda: NOW,
    )
    return LlmRetrier(
        store=store,
        graph=build_graph(checkpointer=saver or InMemorySaver()),
        context=context,
        config=RetryConfig(
            topics=TOPICS,
            window=timedelta(hours=4),
            batch=batch,
            sla_hours=24.0,
            relay_after=timedelta(0),
            retryable=retryable,
        ),
    )


def actions(store: FakeRetryStore) -> list[tuple[str, str]]:
    return [(task, a.action) for task, a in store.audit]


async def test_an_answer_that_needs_no_person_supersedes_the_task_and_is_published() -> None:
    store, broker = FakeRetryStore([candidate(1)]), Broker()
    report = await retrier(store, OutageExtractor()).tick(publish=broker)
    assert report.outcomes == {"superseded": 1} and report.published == 1
    assert store.superseded["task-1"].outcome == "approve"
    assert store.superseded["task-1"].decided_by == "auto"
    assert [m.topic for m in broker.sent] == [TOPICS.decided]
    assert json.loads(broker.sent[0].value)["correlation_id"] == "corr-1"
    assert store.emitted == {1}
    assert actions(store) == [("task-1", "llm_retry_superseded")]
    assert store.audit[0][1].actor == ACTOR


async def test_an_answer_that_still_needs_a_person_reroutes_the_same_task_on_a_new_thread() -> None:
    saver = InMemorySaver()
    store, broker = FakeRetryStore([candidate(1, text=UNSURE)]), Broker()
    report = await retrier(store, OutageExtractor(), saver=saver).tick(publish=broker)
    assert report.outcomes == {"rerouted": 1}
    task, thread = store.rerouted["task-1"]
    assert task.task_id == "task-1"
    assert [r.code for r in task.reasons] == ["low_confidence"]  # llm_unavailable is gone
    assert task.due_at == NOW - timedelta(minutes=10) + timedelta(hours=24 * (1 - 0.9 * task.priority / 100))
    assert thread != "doc-1" and thread.startswith("doc-1:llm-retry:")
    graph = build_graph(checkpointer=saver)
    waiting = await graph.aget_state({"configurable": {"thread_id": thread}})
    assert waiting.next == ("human_review",)
    assert [m.topic for m in broker.sent] == [TOPICS.review_requested]
    assert actions(store) == [("task-1", "llm_retry_rerouted")]


async def test_a_round_stops_at_the_first_answer_that_is_still_unavailable() -> None:
    store, broker, llm = (
        FakeRetryStore([candidate(i) for i in range(3)]),
        Broker(),
        OutageExtractor(down=True),
    )
    report = await retrier(store, llm).tick(publish=broker)
    assert llm.calls == 1 and report.candidates == 3
    assert report.outcomes == {"unavailable": 1}
    assert actions(store) == [("task-0", "llm_retry_unavailable")]
    assert not broker.sent and not store.superseded


async def test_a_reviewer_who_took_the_task_first_wins_and_the_machine_result_is_discarded() -> None:
    saver = InMemorySaver()
    store, broker = FakeRetryStore([candidate(1)], reviewer_first={"task-1"}), Broker()
    report = await retrier(store, OutageExtractor(), saver=saver).tick(publish=broker)
    assert report.outcomes == {"discarded": 1}
    assert not broker.sent and not store.superseded and not store.outbox
    assert actions(store) == [("task-1", "llm_retry_discarded")]
    assert not [t async for t in saver.alist(None)]  # the speculative thread was dropped


async def test_a_round_is_bounded_by_the_batch_oldest_first() -> None:
    found = [candidate(i, age=timedelta(minutes=60 - i)) for i in range(5)]
    store, broker = FakeRetryStore(found), Broker()
    report = await retrier(store, OutageExtractor(), batch=2).tick(publish=broker)
    assert report.outcomes == {"superseded": 2}
    assert set(store.superseded) == {"task-0", "task-1"}


async def test_tasks_outside_the_window_or_failed_otherwise_are_left_alone() -> None:
    old = candidate(1, age=timedelta(hours=5))
    refused = candidate(2, failure="llm_refused: I can't help with that")
    store, llm = FakeRetryStore([old, refused]), OutageExtractor()
    report = await retrier(store, llm).tick(publish=Broker())
    assert report.candidates == 0 and llm.calls == 0 and not store.audit


async def test_messages_a_failed_publish_left_are_relayed_next_round() -> None:
    store, broker = FakeRetryStore([candidate(1)]), Broker()
    broker.fail = True
    first = await retrier(store, OutageExtractor()).tick(publish=broker)
    assert first.outcomes == {"superseded": 1} and first.published == 0 and not store.emitted
    broker.fail = False
    second = await retrier(store, OutageExtractor()).tick(publish=broker)
    assert second.relayed == 1 and second.candidates == 0
    assert [m.topic for m in broker.sent] == [TOPICS.decided] and store.emitted == {1}


class Exploding(OutageExtractor):
    async def extract(self, document: Document) -> Any:
        if document.document_id == "doc-0":
            raise ValueError("bad document")
        return await super().extract(document)


async def test_a_workflow_error_is_recorded_and_the_round_goes_on() -> None:
    store = FakeRetryStore([candidate(0, age=timedelta(minutes=20)), candidate(1)])
    report = await retrier(store, Exploding()).tick(publish=Broker())
    assert report.outcomes == {"failed": 1, "superseded": 1}
    assert actions(store) == [("task-0", "llm_retry_failed"), ("task-1", "llm_retry_superseded")]


class DatabaseDown(Exception):
    pass


async def test_a_retryable_infrastructure_error_ends_the_round() -> None:
    class Flaky(FakeRetryStore):
        async def supersede(self, **kw: Any) -> None:  # type: ignore[override]
            raise DatabaseDown("connection refused")

    r = retrier(Flaky([candidate(1)]), OutageExtractor(), retryable=(DatabaseDown,))
    with pytest.raises(DatabaseDown):
        await r.tick(publish=Broker())
