"""Kill the worker with SIGKILL mid-run and restart it: every document still ends in
exactly one decision or exactly one open review task, and nothing is lost. On SQLite
and on PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

from autoclerk.publish import publish_events
from autoclerk.samples import received_event
from infra.broker import EmbeddedBroker
from infra.db.engine import migrate
from infra.kafka import ensure_topics
from schemas.messages import Topics
from tests.faults.ledger import check_ledger
from tests.support import outcome_counts, small_corpus, spawn_worker, wait_until, worker_env


def test_sigkill_mid_run_loses_nothing_and_decides_once(
    tmp_path: Path, trained_models: Path, fault_db: str
) -> None:
    train, test = small_corpus()
    docs = (test + train)[:80]
    events = [received_event(d) for d in docs]
    prefix = f"crash-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    log = tmp_path / "worker.log"
    migrate(fault_db)
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        env = worker_env(
            bootstrap=broker.bootstrap, prefix=prefix, db_url=fault_db, models_dir=trained_models
        )
        worker = spawn_worker(env, log)
        try:
            asyncio.run(publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=events))
            wait_until(
                lambda: sum(outcome_counts(fault_db).values()) >= 10,
                timeout_s=240,
                what="first outcomes",
                proc=worker,
                log=log,
            )
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            before = sum(outcome_counts(fault_db).values())
            assert before < len(docs), "the kill came too late to test anything"
            worker = spawn_worker(env, log)
            wait_until(
                lambda: sum(outcome_counts(fault_db).values()) >= len(docs),
                timeout_s=300,
                what="all outcomes after restart",
                proc=worker,
                log=log,
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    ledger = check_ledger(db_url=fault_db, published=[e.model_dump_json().encode() for e in events])
    print(ledger.row(f"worker SIGKILL mid-run ({fault_db.split(':')[0]})"))
    ledger.assert_nothing_lost()
    assert ledger.dead_lettered == 0
