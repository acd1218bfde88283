"""PostgreSQL restarts under a running worker: the worker waits it out (partition
paused, retrying with backoff) instead of dying, and every document ends with exactly
one outcome. The database is a private cluster, never the shared server."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from autoclerk.publish import publish_events
from autoclerk.samples import received_event
from infra.broker import EmbeddedBroker
from infra.db.engine import migrate
from infra.kafka import ensure_topics
from schemas.messages import Topics
from tests.faults.ledger import check_ledger
from tests.faults.pgcluster import PgCluster
from tests.support import outcome_counts, small_corpus, spawn_worker, wait_until, worker_env

OUTAGE_S = 8.0  # well past the old 3-second retry budget that killed the worker


def test_postgres_restart_mid_run_loses_nothing(
    tmp_path: Path, trained_models: Path, private_pg: PgCluster
) -> None:
    train, test = small_corpus()
    docs = (test + train)[:60]
    events = [received_event(d) for d in docs]
    published = [e.model_dump_json().encode() for e in events]
    prefix = f"pgfault-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    db_url = private_pg.url
    log = tmp_path / "worker.log"
    migrate(db_url)
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        env = worker_env(bootstrap=broker.bootstrap, prefix=prefix, db_url=db_url, models_dir=trained_models)
        env["AUTOCLERK_KAFKA__RETRY_FOR_S"] = "180"
        worker = spawn_worker(env, log)
        try:
            asyncio.run(publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=events))
            wait_until(
                lambda: sum(outcome_counts(db_url).values()) >= 5,
                timeout_s=240,
                what="first outcomes",
                proc=worker,
                log=log,
            )
            private_pg.stop(mode="immediate")
            time.sleep(OUTAGE_S)
            assert worker.poll() is None, log.read_text()[-3000:]
            private_pg.start()
            private_pg.wait_ready()
            wait_until(
                lambda: sum(outcome_counts(db_url).values()) >= len(docs),
                timeout_s=300,
                what="all outcomes after the database came back",
                proc=worker,
                log=log,
            )
            assert worker.poll() is None, "the worker must wait the outage out, not exit"
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    text = log.read_text()
    assert "transient failure" in text, "the outage was not even noticed"
    ledger = check_ledger(db_url=db_url, published=published)
    print(ledger.row("PostgreSQL restart (8 s outage)"))
    ledger.assert_nothing_lost()
    assert ledger.dead_lettered == 0
