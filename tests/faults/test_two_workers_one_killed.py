"""Two workers in one consumer group on PostgreSQL; one is SIGKILLed mid-run and not
restarted. The group rebalances, the survivor takes over the dead worker's partitions
and re-reads what it had not acknowledged: every document still ends with exactly one
outcome (scale-out's failure case; bench/scale_out.py measures the throughput)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import pytest

from autoclerk.bootstrap import open_database
from autoclerk.publish import publish_events
from autoclerk.samples import received_event
from infra.broker import EmbeddedBroker
from infra.kafka import ensure_topics
from schemas.messages import Topics
from tests.faults.ledger import check_ledger
from tests.support import outcome_counts, small_corpus, spawn_worker, wait_until, worker_env


async def prepare_database(db_url: str) -> None:
    """As `autoclerk db migrate` does before workers start: schema and checkpointer tables
    once (two workers creating the checkpointer's tables at once can deadlock)."""
    async with open_database(db_url):
        pass


# Over the suite's 300 s only when run alone on a loaded machine: the session's model
# training (trained_models) counts against the first test that asks for it.
@pytest.mark.timeout(480)
@pytest.mark.parametrize("fault_db", ["postgres"], indirect=True)
def test_a_killed_worker_s_partitions_move_to_the_survivor(
    tmp_path: Path, trained_models: Path, fault_db: str
) -> None:
    train, test = small_corpus()
    docs = (test + train)[:48]
    events = [received_event(d) for d in docs]
    prefix = f"pair-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    logs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    asyncio.run(prepare_database(fault_db))  # as `autoclerk db migrate` does before workers start
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=4))
        env = worker_env(
            bootstrap=broker.bootstrap, prefix=prefix, db_url=fault_db, models_dir=trained_models
        )
        env["AUTOCLERK_KAFKA__PARTITIONS"] = "4"
        workers = [spawn_worker(env, log) for log in logs]
        try:
            asyncio.run(publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=events))
            wait_until(
                lambda: sum(outcome_counts(fault_db).values()) >= 10,
                timeout_s=240,
                what="first outcomes",
                proc=workers[1],
                log=logs[1],
            )
            os.kill(workers[0].pid, signal.SIGKILL)
            workers[0].wait()
            assert sum(outcome_counts(fault_db).values()) < len(docs), (
                "the kill came too late to test anything"
            )
            wait_until(
                lambda: sum(outcome_counts(fault_db).values()) >= len(docs),
                timeout_s=240,
                what="all outcomes from the survivor",
                proc=workers[1],
                log=logs[1],
            )
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=30)
    ledger = check_ledger(db_url=fault_db, published=[e.model_dump_json().encode() for e in events])
    print(ledger.row("2 workers, one SIGKILLed, not restarted (postgres)"))
    ledger.assert_nothing_lost()
    assert ledger.dead_lettered == 0
