"""Kill the embedded broker with SIGKILL mid-run and start it again on the same port.

- durable storage (the default): the broker comes back with its messages, offsets and
  epoch marker; the worker carries on and nothing is lost.
- memory storage: the broker comes back empty, with a new epoch. The worker says so
  loudly and restarts in place; the test re-sends, as upstream would, every document
  that has no outcome yet, and still nothing is lost or decided twice.

A supervisor (the one `autoclerk run` uses) keeps the worker alive, as a deployment's
process manager would: a worker whose publishes run out of retries while the broker
is down exits, and is started again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import pytest

from autoclerk.epoch import learn_epoch
from autoclerk.samples import received_event
from autoclerk.supervise import Supervisor
from infra.broker import EmbeddedBroker
from infra.db.engine import migrate
from infra.kafka import ensure_topics, make_producer
from schemas.messages import Topics
from tests.faults.ledger import check_ledger
from tests.support import outcome_counts, small_corpus, spawn_worker, wait_until, worker_env


@pytest.fixture
def db_url(fault_db: str) -> str:
    """A database URL a worker process can use, on both databases (tests/faults/conftest.py)."""
    return fault_db


async def _publish(*, bootstrap: str, topic: str, raws: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(bootstrap=bootstrap)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, key=k, value=v) for k, v in raws])
    finally:
        await producer.stop()


def _restart(broker: EmbeddedBroker, *, storage_dir: Path | None, log: Path) -> EmbeddedBroker:
    port = int(broker.bootstrap.rsplit(":", 1)[1])
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGKILL)
    broker.stop()  # reaps tansu, stops its object store (the folder stays)
    return EmbeddedBroker(port=port, storage_dir=storage_dir, log_path=log).start()


@pytest.mark.parametrize("storage", ["durable", "memory"])
def test_broker_sigkill_and_restart_loses_nothing(
    tmp_path: Path, trained_models: Path, db_url: str, storage: str
) -> None:
    train, test = small_corpus()
    docs = (test + train)[:40]
    events = [received_event(d) for d in docs]
    raws = [(e.payload.document_id.encode(), e.model_dump_json().encode()) for e in events]
    first, second = raws[:24], raws[24:]
    prefix = f"brk-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    storage_dir = tmp_path / "broker" if storage == "durable" else None
    broker_log, log = tmp_path / "broker.log", tmp_path / "worker.log"
    migrate(db_url)
    broker = EmbeddedBroker(storage_dir=storage_dir, log_path=broker_log).start()
    published: list[bytes] = []
    supervisor: Supervisor | None = None
    try:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        epoch_before = asyncio.run(learn_epoch(bootstrap=broker.bootstrap, prefix=prefix))
        env = worker_env(bootstrap=broker.bootstrap, prefix=prefix, db_url=db_url, models_dir=trained_models)
        supervisor = Supervisor(
            spawn=lambda p: spawn_worker(env, p), log_paths=[log], say=print, window_s=600
        )
        asyncio.run(_publish(bootstrap=broker.bootstrap, topic=topics.received, raws=first))
        published += [v for _, v in first]
        sup = supervisor

        def outcomes_at_least(n: int) -> bool:
            sup.check()
            return sum(outcome_counts(db_url).values()) >= n

        wait_until(lambda: outcomes_at_least(5), timeout_s=240, what="first outcomes", log=log)

        broker = _restart(broker, storage_dir=storage_dir, log=broker_log)
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        epoch_after = asyncio.run(learn_epoch(bootstrap=broker.bootstrap, prefix=prefix))
        asyncio.run(_publish(bootstrap=broker.bootstrap, topic=topics.received, raws=second))
        published += [v for _, v in second]

        if storage == "durable":
            assert epoch_after == epoch_before
        else:
            assert epoch_after != epoch_before
            # Upstream's part: once a worker runs on the new epoch (every worker of the
            # old one is gone), re-send every document that has no outcome.
            wait_until(
                lambda: outcomes_at_least(0) and f"broker epoch {epoch_after}" in log.read_text(),
                timeout_s=120,
                what="a worker on the new epoch",
                log=log,
            )
            resend = _without_outcome(db_url=db_url, raws=first)
            asyncio.run(_publish(bootstrap=broker.bootstrap, topic=topics.received, raws=resend))
            published += [v for _, v in resend]

        wait_until(
            lambda: outcomes_at_least(0) and check_ledger(db_url=db_url, published=published).lost == 0,
            timeout_s=300,
            what="an outcome for every published message",
            log=log,
        )
        supervisor.check()
        assert supervisor.all_running(), f"worker not running at the end\n{log.read_text()[-3000:]}"
    finally:
        if supervisor is not None:
            supervisor.stop()
        broker.stop()

    ledger = check_ledger(db_url=db_url, published=published)
    print(ledger.row(f"broker SIGKILL, {storage} storage"))
    ledger.assert_nothing_lost()
    worker_log = log.read_text()
    if storage == "durable":
        assert "CAME BACK EMPTY" not in worker_log
    else:
        assert "THE BROKER CAME BACK EMPTY" in worker_log


def _without_outcome(*, db_url: str, raws: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The messages whose bytes the ledger does not follow to an outcome."""
    out = []
    for key, value in raws:
        if check_ledger(db_url=db_url, published=[value]).lost:
            out.append((key, value))
    return out
