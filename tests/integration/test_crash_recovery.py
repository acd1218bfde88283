"""Kill the worker with SIGKILL mid-run and restart it: every document still ends in
exactly one decision or exactly one open review task, and nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from autoclerk.publish import publish_events
from autoclerk.samples import received_event
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.db.tables import DecisionRow, ReviewTaskRow
from infra.kafka import ensure_topics
from schemas.messages import Topics
from tests.support import outcome_counts, small_corpus, spawn_worker, wait_until, worker_env


def test_sigkill_mid_run_loses_nothing_and_decides_once(tmp_path: Path, trained_models: Path) -> None:
    models_dir = trained_models
    train, test = small_corpus()
    docs = (test + train)[:80]
    prefix = f"crash-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    log = tmp_path / "worker.log"
    migrate(db_url)
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        env = worker_env(bootstrap=broker.bootstrap, prefix=prefix, db_url=db_url, models_dir=models_dir)
        worker = spawn_worker(env, log)
        try:
            asyncio.run(
                publish_events(
                    bootstrap=broker.bootstrap,
                    topic=topics.received,
                    events=[received_event(d) for d in docs],
                )
            )
            wait_until(
                lambda: sum(outcome_counts(db_url).values()) >= 10,
                timeout_s=240,
                what="first outcomes",
                proc=worker,
                log=log,
            )
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            before = sum(outcome_counts(db_url).values())
            assert before < len(docs), "the kill came too late to test anything"
            worker = spawn_worker(env, log)
            wait_until(
                lambda: sum(outcome_counts(db_url).values()) >= len(docs),
                timeout_s=300,
                what="all outcomes after restart",
                proc=worker,
                log=log,
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    engine = make_engine(db_url)
    with Session(engine) as s:
        decided = Counter(s.execute(select(DecisionRow.document_id)).scalars())
        tasks = Counter(
            s.execute(select(ReviewTaskRow.document_id).where(ReviewTaskRow.status == "open")).scalars()
        )
    engine.dispose()
    ids = {d.document_id for d in docs}
    assert set(decided) | set(tasks) == ids
    assert not set(decided) & set(tasks)
    assert all(n == 1 for n in decided.values()) and all(n == 1 for n in tasks.values())
    assert outcome_counts(db_url)["deadletters"] == 0
