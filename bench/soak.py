"""Memory of a worker over a long run: does it stay flat?

    .venv/bin/python -m bench.soak [--docs 20000] [--every 1000] [--workers 1]

One embedded broker, a fresh SQLite database, `--workers` worker processes with the
local extractor. Documents (the shipped sample, renamed so each is new) are published
in chunks of `--every`; after each chunk has an outcome, every worker's RSS is read
from /proc. Prints one JSON object: RSS per worker after each chunk, the growth from
the first reading to the last, and docs/s and worker CPU per document per chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from autoclerk.reference import load_shipped_reference
from autoclerk.samples import received_event, sample_documents
from bench.harness import cpu_s, publish, renamed, rss_mb, wait_outcomes, workers
from feedback.models import ensure_models
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.kafka import ensure_topics
from infra.settings import KafkaSettings, Settings
from schemas.messages import Topics


async def run(docs_n: int, every: int, n_workers: int) -> dict[str, Any]:
    base = Settings()
    ensure_models(models_dir=base.models.dir, data_dir=base.data_dir)
    sample = [received_event(d) for d in sample_documents(data_dir=base.data_dir)]
    tmp = Path(tempfile.mkdtemp(prefix="autoclerk-soak-"))
    settings = base.model_copy(
        update={
            "db": base.db.model_copy(update={"url": f"sqlite:///{tmp / 'soak.db'}"}),
            "kafka": KafkaSettings(topic_prefix=f"soak-{uuid.uuid4().hex[:6]}"),
        }
    )
    migrate(settings.db.url)
    engine = make_engine(settings.db.url)
    load_shipped_reference(engine=engine, data_dir=settings.data_dir)
    topics = Topics.with_prefix(settings.kafka.topic_prefix)
    readings: list[dict[str, Any]] = []
    async with EmbeddedBroker() as broker:
        await ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=4)
        log = Path("var/logs/bench-soak-worker.log")
        with workers(settings=settings, bootstrap=broker.bootstrap, n=n_workers, env={}, log=log) as procs:
            done = 0
            while done < docs_n:
                size = min(every, docs_n - done)
                chunk = [sample[(done + i) % len(sample)] for i in range(size)]
                tag = f"soak{done // every}-"
                cpu0, t0 = sum(cpu_s(p.pid) for p in procs), time.perf_counter()
                await publish(bootstrap=broker.bootstrap, topic=topics.received, events=renamed(chunk, tag))
                await wait_outcomes(engine, size, procs, 1800, tag)
                done += size
                readings.append(
                    {
                        "documents": done,
                        "rss_mb": [round(rss_mb(p.pid), 1) for p in procs],
                        "docs_per_s": round(size / (time.perf_counter() - t0), 1),
                        "worker_cpu_ms_per_doc": round(
                            (sum(cpu_s(p.pid) for p in procs) - cpu0) / size * 1000, 2
                        ),
                    }
                )
                print(json.dumps(readings[-1]), flush=True)
    engine.dispose()
    first, last = readings[0]["rss_mb"], readings[-1]["rss_mb"]
    return {
        "documents": docs_n,
        "workers": n_workers,
        "rss_growth_mb_after_first_chunk": [round(b - a, 1) for a, b in zip(first, last, strict=True)],
        "readings": readings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=1_000, help="documents between RSS readings")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="openmp")
    print(json.dumps(asyncio.run(run(args.docs, args.every, args.workers)), indent=2))


if __name__ == "__main__":
    main()
