"""Scale-out: 1, 2 and 4 worker processes in one consumer group, one of them SIGKILLed mid-run.

    .venv/bin/python -m bench.scale_out [--n 300] [--workers 1,2,4] [--partitions 8]

Per configuration: a fresh PostgreSQL database (on --pg-url's server), a fresh topic
prefix on one embedded broker, W workers kept alive by the same `Supervisor` that
`autoclerk run` uses (a killed worker is restarted after its 1 s backoff). The clock
starts once every worker reports a partition assigned on its own /metrics
(`autoclerk_assigned_partitions`), so start-up and the first rebalances are not counted. When
a third of the documents have an outcome, one worker is SIGKILLed; its partitions move
to the others (and back when it restarts) and its unacknowledged messages are
delivered again. At the end every published message must have exactly one outcome
(`tests/faults/ledger.py`: lost = 0, no document both decided and in review).

Prints per configuration: documents/s in all and per worker, and the speed-up against
the one-worker run measured in this same run (the baseline). On a 2-core machine 4
workers cannot be faster than 2: they share the same two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from threadpoolctl import threadpool_limits

from autoclerk.bootstrap import open_database
from autoclerk.publish import publish_events
from autoclerk.reference import load_shipped_reference
from autoclerk.samples import received_event, sample_documents
from autoclerk.summary import collect_summary
from autoclerk.supervise import Supervisor
from feedback.models import ensure_models
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine
from infra.kafka import ensure_topics
from infra.process import die_with_parent
from infra.settings import Settings
from schemas.messages import Topics
from tests.faults.ledger import check_ledger

PG_URL = os.environ.get("AUTOCLERK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def prepare_database(db_url: str) -> None:
    """What `autoclerk db migrate` does before a deployment's workers start: the schema and
    the checkpointer's tables, once (workers racing to create them can deadlock)."""
    async with open_database(db_url):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(env: dict[str, str], log_path: Path, port: int) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "autoclerk", "worker"],
            env={**env, "AUTOCLERK_KAFKA__HEALTH_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A worker's /metrics as {family: [(labels, value)]}; empty while it is not serving."""
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    return {
        f.name: [(s.labels, s.value) for s in f.samples if not s.name.endswith("_created")]
        for f in text_string_to_metric_families(body)
    }


def assigned(port: int, topic: str) -> int:
    owned = scrape(port).get("autoclerk_assigned_partitions", [])
    return int(sum(v for labels, v in owned if labels["topic"] == topic))


def outcomes(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        s = collect_summary(engine)
        return s.outcomes + s.duplicates
    finally:
        engine.dispose()


async def wait(predicate, *, timeout_s: float, what: str, supervisor: Supervisor) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(predicate):
        supervisor.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


async def one_config(
    *, workers: int, n: int, partitions: int, bootstrap: str, settings: Settings, logs: Path
) -> dict[str, object]:
    prefix = f"scale{workers}-{uuid.uuid4().hex[:6]}"
    topics = Topics.with_prefix(prefix)
    docs = sample_documents(data_dir=settings.data_dir, limit=n)
    events = [received_event(d) for d in docs]
    await ensure_topics(bootstrap=bootstrap, names=topics.all(), partitions=partitions)
    with fresh_database(PG_URL) as db_url:
        await prepare_database(db_url)
        engine = make_engine(db_url)
        load_shipped_reference(engine=engine, data_dir=settings.data_dir)
        engine.dispose()
        env = {
            **os.environ,
            "AUTOCLERK_KAFKA__BOOTSTRAP": bootstrap,
            "AUTOCLERK_KAFKA__TOPIC_PREFIX": prefix,
            "AUTOCLERK_KAFKA__PARTITIONS": str(partitions),
            "AUTOCLERK_DB__URL": db_url,
            "AUTOCLERK_MODELS__DIR": str(settings.models.dir),
        }
        log_paths = [logs / f"scale{workers}-worker-{i}.log" for i in range(workers)]
        ports = {p: free_port() for p in log_paths}
        supervisor = Supervisor(
            spawn=lambda p: spawn(env, p, ports[p]), log_paths=log_paths, say=lambda line: print(f"  {line}")
        )
        try:
            await wait(
                lambda: all(assigned(port, topics.received) > 0 for port in ports.values()),
                timeout_s=600,
                what="every worker to own a partition",
                supervisor=supervisor,
            )
            t0 = time.perf_counter()
            await publish_events(bootstrap=bootstrap, topic=topics.received, events=events)
            await wait(
                lambda: outcomes(db_url) >= n // 3, timeout_s=600, what="a third", supervisor=supervisor
            )
            victim = supervisor.pids[-1]
            os.kill(victim, signal.SIGKILL)
            killed_at = time.perf_counter() - t0
            await wait(
                lambda: outcomes(db_url) >= n, timeout_s=900, what="every outcome", supervisor=supervisor
            )
            elapsed = time.perf_counter() - t0
            per_worker = {
                f"worker-{i}": sum(v for _, v in scrape(ports[p]).get("autoclerk_documents", []))
                for i, p in enumerate(log_paths)
            }
        finally:
            supervisor.stop()
        ledger = check_ledger(db_url=db_url, published=[e.model_dump_json().encode() for e in events])
    ledger.assert_nothing_lost()
    return {
        "workers": workers,
        "documents": n,
        "seconds": round(elapsed, 1),
        "docs_per_s": round(n / elapsed, 1),
        "docs_per_s_per_worker": round(n / elapsed / workers, 1),
        "killed_pid_at_s": round(killed_at, 1),
        "restarts": supervisor.restarts,
        "documents_counted_by_each_worker_since_its_start": per_worker,
        "ledger": {
            "published": ledger.published,
            "decided": ledger.decided,
            "in_review": ledger.in_review,
            "dead_lettered": ledger.dead_lettered,
            "duplicate": ledger.duplicate,
            "lost": ledger.lost,
            "double": ledger.double,
        },
    }


async def run(*, n: int, worker_counts: list[int], partitions: int) -> dict[str, object]:
    settings = Settings()
    ensure_models(models_dir=settings.models.dir, data_dir=settings.data_dir)
    logs = Path("var/logs")
    await asyncio.to_thread(logs.mkdir, parents=True, exist_ok=True)
    results = []
    async with EmbeddedBroker() as broker:
        for w in worker_counts:
            print(f"{w} worker(s) …", flush=True)
            results.append(
                await one_config(
                    workers=w,
                    n=n,
                    partitions=partitions,
                    bootstrap=broker.bootstrap,
                    settings=settings,
                    logs=logs,
                )
            )
    base = next((r for r in results if r["workers"] == 1), results[0])
    for r in results:
        r["speedup_vs_1_worker"] = round(float(r["docs_per_s"]) / float(base["docs_per_s"]), 2)  # type: ignore[arg-type]
    return {"cpu_count": os.cpu_count(), "partitions": partitions, "runs": results}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="openmp")
    counts = [int(w) for w in args.workers.split(",")]
    print(json.dumps(asyncio.run(run(n=args.n, worker_counts=counts, partitions=args.partitions)), indent=2))


if __name__ == "__main__":
    main()
