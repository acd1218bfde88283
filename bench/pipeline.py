"""End-to-end pipeline throughput against the plain consume→produce floor, same broker, same run.

    .venv/bin/python -m bench.pipeline [--n 600] [--concurrency 16]

Starts one embedded broker; measures (1) plain aiokafka consume→produce→commit with
payloads the size of our documents, (2) the worker: real models, rules, SQLite store,
checkpointer, outbox. The worker is warmed up on one document before the clock starts,
so model loading and the consumer-group join (slow on tansu) are not counted.
Prints docs/s, p50/p99 latency (producer timestamp → outcome stored) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from threadpoolctl import threadpool_limits

from autoclerk.demo import spawn_worker, stop_worker
from autoclerk.publish import publish_events
from autoclerk.reference import load_shipped_reference
from autoclerk.samples import received_event, sample_documents
from autoclerk.summary import collect_summary
from bench.baseline import consume_produce_baseline
from feedback.models import ensure_models
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.kafka import ensure_topics
from infra.settings import KafkaSettings, Settings
from schemas.messages import Topics


def _outcomes(engine) -> int:  # type: ignore[no-untyped-def]
    s = collect_summary(engine)
    return s.outcomes + s.duplicates


async def _wait(engine, expected: int, worker, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while await asyncio.to_thread(_outcomes, engine) < expected:
        if worker.poll() is not None:
            raise RuntimeError("worker died; see var/logs/bench-worker.log")
        if time.monotonic() > deadline:
            raise TimeoutError("pipeline did not finish in time")
        await asyncio.sleep(0.1)


async def run(n: int, concurrency: int) -> dict[str, object]:
    base = Settings()
    ensure_models(models_dir=base.models.dir, data_dir=base.data_dir)
    docs = sample_documents(data_dir=base.data_dir, limit=n + 1)
    events = [received_event(d) for d in docs]
    mean_bytes = int(statistics.mean(len(e.model_dump_json()) for e in events))
    tmp = Path(tempfile.mkdtemp(prefix="autoclerk-bench-"))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    settings = base.model_copy(
        update={
            "db": base.db.model_copy(update={"url": f"sqlite:///{tmp / 'bench.db'}"}),
            "kafka": KafkaSettings(topic_prefix=prefix, concurrency=concurrency),
        }
    )
    migrate(settings.db.url)
    engine = make_engine(settings.db.url)
    load_shipped_reference(engine=engine, data_dir=settings.data_dir)
    topics = Topics.with_prefix(prefix)
    async with EmbeddedBroker() as broker:
        floor = await consume_produce_baseline(
            bootstrap=broker.bootstrap, n_messages=max(n, 2000), payload=b"x" * mean_bytes
        )
        await ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=4)
        worker = spawn_worker(
            settings=settings, bootstrap=broker.bootstrap, log_path=Path("var/logs/bench-worker.log")
        )
        try:
            await publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=events[:1])
            await _wait(engine, 1, worker, 300)
            t0 = time.perf_counter()
            await publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=events[1:])
            await _wait(engine, len(events), worker, 900)
            elapsed = time.perf_counter() - t0
        finally:
            stop_worker(worker)
    summary = collect_summary(engine)
    engine.dispose()
    docs_per_s = (len(events) - 1) / elapsed
    return {
        "documents": len(events) - 1,
        "mean_event_bytes": mean_bytes,
        "concurrency": concurrency,
        "pipeline_docs_per_s": round(docs_per_s, 1),
        "latency_p50_ms": round(summary.percentile(0.5) or 0, 1),
        "latency_p99_ms": round(summary.percentile(0.99) or 0, 1),
        "baseline_consume_produce_msgs_per_s": round(floor, 1),
        "ratio_pipeline_to_baseline": round(docs_per_s / floor, 4),
        "approved": summary.approved,
        "rejected": summary.rejected,
        "review": summary.review,
        "deadlettered": summary.deadlettered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="openmp")
    print(json.dumps(asyncio.run(run(args.n, args.concurrency)), indent=2))


if __name__ == "__main__":
    main()
