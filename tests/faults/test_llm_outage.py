"""An LLM outage, then recovery, with a real worker process: documents that arrived
while the LLM server failed went to review with `llm_unavailable`; once it answers
again, the worker's retry rounds extract them again, and each task is superseded by a
machine decision or re-routed exactly once, with nothing lost and every attempt in the
review audit."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from autoclerk.publish import publish_events
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.db.tables import DecisionRow, ExtractionRow, ReviewEventRow, ReviewTaskRow
from infra.kafka import ensure_topics, make_consumer, make_producer
from schemas.events import DocumentReceived, Envelope, FieldCorrection, ReviewCompleted
from schemas.messages import Topics
from tests.faults.ledger import check_ledger
from tests.llm_server import Reply, ScriptedLlmServer
from tests.support import spawn_worker, wait_until, worker_env

N = 8
ACTOR = "system:llm-retry"


def invoice(i: int) -> tuple[Envelope[DocumentReceived], dict[str, str]]:
    """A plain invoice whose values are printed exactly as the answer gives them."""
    fields = {
        "vendor_name": "Northwind Traders",
        "invoice_number": f"INV-{7000 + i}",
        "issue_date": "2026-11-2" + str(i % 9),
        "total": f"{40 + i}.50",
        "currency": "USD",
    }
    text = "\n".join(
        [
            "INVOICE",
            fields["vendor_name"],
            f"Invoice No: {fields['invoice_number']}",
            f"Date: {fields['issue_date']}",
            f"Total due: {fields['total']} {fields['currency']}",
        ]
    )
    payload = DocumentReceived(document_id=f"outage-{i}-{uuid.uuid4().hex[:6]}", kind="invoice", text=text)
    return Envelope[DocumentReceived](type="document.received", source="fault-test", payload=payload), fields


def answers(golds: list[dict[str, str]]) -> Any:
    """The printed values; for every other invoice the model is unsure of the total,
    so that document still needs a person (re-routed) and the others do not."""
    by_line = {f"Invoice No: {g['invoice_number']}": (i, g) for i, g in enumerate(golds)}

    def respond(body: dict[str, Any]) -> Reply:
        i, gold = by_line[json.loads(body["messages"][1]["content"])["lines"][2]]
        return Reply(fields=dict(gold), probs={"total": 0.6} if i % 2 else {})

    return respond


def _tasks(db_url: str) -> list[tuple[ReviewTaskRow, str | None]]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            q = select(ReviewTaskRow, col(ExtractionRow.failure)).join(
                ExtractionRow, col(ExtractionRow.document_id) == col(ReviewTaskRow.document_id)
            )
            return [(t, f) for t, f in s.execute(q).all()]
    finally:
        engine.dispose()


def _unavailable_rounds(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            q = select(col(ReviewEventRow.id)).where(col(ReviewEventRow.action) == "llm_retry_unavailable")
            return len(s.execute(q).all())
    finally:
        engine.dispose()


def _waiting_for_llm(db_url: str) -> int:
    return sum(1 for t, f in _tasks(db_url) if t.status == "open" and (f or "").startswith("llm_unavailable"))


async def _complete(bootstrap: str, topic: str, task: ReviewTaskRow) -> None:
    """What the review UI publishes when a reviewer approves with one correction."""
    review = ReviewCompleted(
        task_id=task.task_id,
        document_id=task.document_id,
        reviewer="anna",
        outcome="approve",
        corrections=[FieldCorrection(field="total", old_value=None, new_value="41.50")],
    )
    env = Envelope[ReviewCompleted](type="review.completed", source="fault-test", payload=review)
    producer = make_producer(bootstrap=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, key=task.document_id.encode(), value=env.model_dump_json().encode()
        )
    finally:
        await producer.stop()


def _decided(db_url: str, document_id: str) -> bool:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            return s.get(DecisionRow, document_id) is not None
    finally:
        engine.dispose()


async def _decided_event_ids(bootstrap: str, topic: str, *, want: int) -> Counter[str]:
    """document id → distinct decided event ids, reading until `want` documents are seen."""
    consumer = make_consumer(topic, bootstrap=bootstrap, group_id=None)
    await consumer.start()
    seen: dict[str, set[str]] = {}
    try:
        for _ in range(100):  # bounded: about 20 s of polling
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                for m in messages:
                    env = json.loads(m.value)
                    seen.setdefault(env["payload"]["document_id"], set()).add(env["event_id"])
            if len(seen) >= want:
                break
    finally:
        await consumer.stop()
    return Counter({doc: len(ids) for doc, ids in seen.items()})


def test_an_llm_outage_is_retried_once_the_server_recovers(
    tmp_path: Path, trained_models: Path, fault_db: str
) -> None:
    prefix = f"outage-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    db_url = fault_db
    log = tmp_path / "worker.log"
    migrate(db_url)
    events, golds = zip(*(invoice(i) for i in range(N)), strict=True)
    published = [e.model_dump_json().encode() for e in events]
    with ScriptedLlmServer(default=Reply(status=503)) as llm, EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        env = {
            **worker_env(bootstrap=broker.bootstrap, prefix=prefix, db_url=db_url, models_dir=trained_models),
            "AUTOCLERK_LLM__MODEL": "gpt-4o-mini",
            "AUTOCLERK_LLM__BASE_URL": llm.url,
            "AUTOCLERK_LLM__API_KEY": "test-key",
            "AUTOCLERK_LLM__TIMEOUT_S": "0.5",
            "AUTOCLERK_LLM__RETRY_INTERVAL_S": "1",
            "AUTOCLERK_LLM__RETRY_BATCH": "3",
        }
        worker = spawn_worker(env, log)
        try:
            asyncio.run(publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=events))
            wait_until(
                lambda: _waiting_for_llm(db_url) == N,
                timeout_s=240,
                what="outage tasks",
                proc=worker,
                log=log,
            )
            # rounds keep trying while the server fails: let two of them find it still down
            wait_until(
                lambda: _unavailable_rounds(db_url) >= 2,
                timeout_s=60,
                what="failed rounds",
                proc=worker,
                log=log,
            )
            before = len(llm.requests)
            llm.responder = answers(list(golds))
            wait_until(
                lambda: _waiting_for_llm(db_url) == 0, timeout_s=120, what="retries", proc=worker, log=log
            )
            # a reviewer answers a re-routed task: the worker resumes the retry's thread
            answered = next(t for t, _ in _tasks(db_url) if t.status == "open")
            asyncio.run(_complete(broker.bootstrap, topics.review_completed, answered))
            wait_until(
                lambda: _decided(db_url, answered.document_id),
                timeout_s=60,
                what="the review",
                proc=worker,
                log=log,
            )
            want = 1 + sum(1 for t, _ in _tasks(db_url) if t.status == "superseded")
            decided = asyncio.run(_decided_event_ids(broker.bootstrap, topics.decided, want=want))
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    ledger = check_ledger(db_url=db_url, published=published)
    print(ledger.row(f"LLM server down, then back ({db_url.split(':')[0]})"))
    ledger.assert_nothing_lost()
    assert (ledger.decided, ledger.in_review) == (N // 2 + 1, N // 2 - 1)
    engine = make_engine(db_url)
    with Session(engine) as s:
        events_by_task: dict[str, list[str]] = {}
        for e in s.execute(select(ReviewEventRow).order_by(col(ReviewEventRow.id))).scalars():
            assert e.actor == ACTOR
            events_by_task.setdefault(e.task_id, []).append(e.action)
        decisions = {d.document_id: d for d in s.execute(select(DecisionRow)).scalars()}
    engine.dispose()
    tasks = _tasks(db_url)
    assert len(tasks) == N
    outcomes: Counter[str] = Counter()
    for task, failure in tasks:
        done = [
            a for a in events_by_task[task.task_id] if a in ("llm_retry_superseded", "llm_retry_rerouted")
        ]
        assert len(done) == 1, (task.task_id, events_by_task[task.task_id])  # retried once
        outcomes[done[0]] += 1
        assert failure is None  # the stored extraction is the LLM's answer now
        if task.status == "superseded":
            assert decisions[task.document_id].decided_by == "auto"
            assert decided[task.document_id] == 1  # published, one decision (re-sends share its id)
        elif task.task_id == answered.task_id:
            assert task.status == "completed" and decisions[task.document_id].decided_by == "human"
            assert decisions[task.document_id].fields["vendor_name"] == "Northwind Traders"  # the retry's
            assert decided[task.document_id] == 1
        else:
            assert task.status == "open" and task.thread_id and task.document_id not in decisions
            assert all(r["code"] != "extraction_failed" for r in task.reasons)
    # while the server failed, each round stopped at its first document; once it
    # answered, each document cost one request (a round is sequential, nothing twice)
    unavailable = sum(a.count("llm_retry_unavailable") for a in events_by_task.values())
    assert unavailable >= 2 and len(llm.requests) - before == N
    assert outcomes == {"llm_retry_superseded": N // 2, "llm_retry_rerouted": N // 2}
    print(f"\noutage: {N} documents, {dict(outcomes)}, LLM requests during outage {before}, "
          f"after {len(llm.requests) - before}; failed rounds {unavailable}; ledger {ledger}")  # fmt: skip
