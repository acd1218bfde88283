"""Two completions of every review task at once (two reviewers, different keys so
they land on different partitions), handled by two worker processes: each document
is decided exactly once, the other completion is a recorded dead letter, and nothing
is lost."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from autoclerk.publish import publish_events
from autoclerk.samples import received_event
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.db.tables import DecisionRow, ReviewTaskRow
from infra.kafka import ensure_topics, make_producer
from schemas.events import Envelope, ReviewCompleted
from schemas.messages import Topics
from tests.faults.ledger import check_ledger
from tests.support import outcome_counts, small_corpus, spawn_worker, wait_until, worker_env


def _open_tasks(db_url: str) -> list[tuple[str, str]]:
    engine = make_engine(db_url)
    with Session(engine) as s:
        q = select(ReviewTaskRow.task_id, ReviewTaskRow.document_id).where(
            col(ReviewTaskRow.status) == "open"
        )
        rows = [(t, d) for t, d in s.execute(q)]
    engine.dispose()
    return rows


def _completion(task_id: str, document_id: str, reviewer: str) -> bytes:
    outcome = "approve" if reviewer == "ann" else "reject"
    done = ReviewCompleted(task_id=task_id, document_id=document_id, reviewer=reviewer, outcome=outcome)
    return (
        Envelope[ReviewCompleted](type="review.completed", source="test", payload=done)
        .model_dump_json()
        .encode()
    )


async def _produce_pairs(bootstrap: str, topic: str, pairs: list[tuple[bytes, bytes, bytes, bytes]]) -> None:
    producer = make_producer(bootstrap=bootstrap, linger_ms=0)
    await producer.start()
    try:
        sent = []
        for k1, v1, k2, v2 in pairs:
            sent.append(await producer.send(topic, v1, key=k1))
            sent.append(await producer.send(topic, v2, key=k2))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def test_concurrent_completions_decide_once(tmp_path: Path, trained_models: Path, fault_db: str) -> None:
    train, test = small_corpus()
    events = [received_event(d) for d in (test + train)[:40]]
    received = [e.model_dump_json().encode() for e in events]
    prefix = f"reviews-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    migrate(fault_db)
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        env = worker_env(
            bootstrap=broker.bootstrap, prefix=prefix, db_url=fault_db, models_dir=trained_models
        )
        logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
        workers = [spawn_worker(env, log) for log in logs]
        try:
            asyncio.run(publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=events))
            wait_until(
                lambda: sum(outcome_counts(fault_db).values()) >= len(events),
                timeout_s=300,
                what="every document routed",
                proc=workers[0],
                log=logs[0],
            )
            tasks = _open_tasks(fault_db)
            assert len(tasks) >= 5, "too few review tasks to race"
            pairs = [
                (f"ann:{d}".encode(), _completion(t, d, "ann"), f"bob:{d}".encode(), _completion(t, d, "bob"))
                for t, d in tasks
            ]
            asyncio.run(_produce_pairs(broker.bootstrap, topics.review_completed, pairs))
            wait_until(
                lambda: (
                    (c := outcome_counts(fault_db))["decisions"] >= len(events)
                    and c["deadletters"] >= len(tasks)
                ),
                timeout_s=300,
                what="every completion handled",
                proc=workers[1],
                log=logs[1],
            )
            assert all(w.poll() is None for w in workers)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=30)
    completions = [v for _, v1, _, v2 in pairs for v in (v1, v2)]
    ledger = check_ledger(db_url=fault_db, published=received + completions)
    print(ledger.row(f"two completions per task, two workers ({fault_db.split(':')[0]})"))
    ledger.assert_nothing_lost()
    assert ledger.dead_lettered == len(tasks)  # exactly one loser per task
    assert not _open_tasks(fault_db)
    engine = make_engine(fault_db)
    with Session(engine) as s:
        human = s.execute(select(DecisionRow.reviewer).where(col(DecisionRow.decided_by) == "human")).all()
    engine.dispose()
    assert len(human) == len(tasks) and {r for (r,) in human} <= {"ann", "bob"}
