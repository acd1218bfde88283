"""The whole pipeline against its floors, from one run on one broker.

    .venv/bin/python -m bench.pipeline [--n 600] [--workers 1] [--concurrency 16]
        [--llm-n 1024] [--llm-concurrency 64] [--llm-latency-ms 300] [--no-llm] [--quick]

Measures, in this order, on one embedded broker:

1. the floor: plain aiokafka consume → produce → commit with payloads the size of our
   documents (`bare_consume_produce_msgs_per_s`);
2. the bare models: triage, the local extractor and rules called directly on the same
   documents in this process (`bare_model_docs_per_s`, one core; `model_cpu_ms_per_doc`);
3. the pipeline with the local extractor: `--workers` worker processes (real models,
   rules, SQLite store, checkpointer, outbox) on a burst of `--n` documents:
   `pipeline_docs_per_s` and the workers' CPU per document from /proc, split into
   `model_cpu_ms_per_doc` and `overhead_cpu_ms_per_doc` (worker CPU - model CPU);
4. p50/p99 latency (producer timestamp → outcome stored) with a paced producer at 50 %
   and 90 % of the capacity measured in 3;
5. the same with the LLM extractor against the local OpenAI-compatible stand-in
   (`tests/llm_server.py`, in its own process) answering after `--llm-latency-ms`:
   burst rate, CPU per document (all overhead: the model runs elsewhere) and p50/p99
   at 50 % of that capacity.

Workers are warmed up on a few documents before any clock starts, so model loading and
the consumer-group join (slow on tansu) are not counted. The machine may be shared:
CPU time per document and the same-run ratios are the figures to compare, wall-clock
rates move with whatever else runs. `--quick` is a smoke run (well under a minute of
measuring). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from autoclerk.bootstrap import open_runtime
from autoclerk.reference import load_shipped_reference
from autoclerk.samples import received_event, sample_documents
from bench.baseline import consume_produce_baseline
from bench.harness import (
    cpu_s,
    latencies_ms,
    publish,
    renamed,
    routes,
    summary,
    wait_outcomes,
    workers,
)
from bench.llm_standin import llm_env, llm_server, printed_answers
from bench.service import bare_model_cpu_s
from feedback.models import ensure_models
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.kafka import ensure_topics
from infra.settings import KafkaSettings, Settings
from schemas.events import DocumentReceived, Envelope
from schemas.messages import Topics

LOG = Path("var/logs/bench-worker.log")
TIMEOUT_S = 900.0


def _settings(base: Settings, tmp: Path, name: str) -> Settings:
    return base.model_copy(
        update={
            "db": base.db.model_copy(update={"url": f"sqlite:///{tmp / f'{name}.db'}"}),
            "kafka": KafkaSettings(topic_prefix=f"bench-{name}-{uuid.uuid4().hex[:6]}"),
        }
    )


async def _phase(
    *,
    bootstrap: str,
    topic: str,
    engine: Any,
    procs: list[subprocess.Popen[bytes]],
    events: list[Envelope[DocumentReceived]],
    tag: str,
    rate: float | None = None,
    others: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One batch of documents, burst or paced: wall time, workers' CPU, latencies, and
    the CPU of the `others` (the broker, the LLM stand-in: they share the cores)."""
    batch = renamed(events, tag)
    others = {**(others or {}), "bench": os.getpid()}
    cpu0 = sum(cpu_s(p.pid) for p in procs)
    other0 = {k: cpu_s(pid) for k, pid in others.items()}
    t0 = time.perf_counter()
    await publish(bootstrap=bootstrap, topic=topic, events=batch, rate=rate)
    await wait_outcomes(engine, len(batch), procs, TIMEOUT_S, tag)
    elapsed = time.perf_counter() - t0
    cpu = sum(cpu_s(p.pid) for p in procs) - cpu0
    other = {
        f"{k}_cpu_ms_per_doc": round((cpu_s(pid) - other0[k]) / len(batch) * 1000, 2)
        for k, pid in others.items()
    }
    lat = await asyncio.to_thread(latencies_ms, engine, tag)
    return {
        "docs_per_s": round(len(batch) / elapsed, 1),
        "worker_cpu_ms_per_doc": round(cpu / len(batch) * 1000, 2),
        **other,
        **summary(lat),
        **await asyncio.to_thread(routes, engine, tag),
    }


async def _pipeline(
    *,
    bootstrap: str,
    settings: Settings,
    events: list[Envelope[DocumentReceived]],
    n_workers: int,
    concurrency: int,
    paced_n: int,
    env: dict[str, str],
    name: str,
    others: dict[str, int],
) -> dict[str, Any]:
    migrate(settings.db.url)
    engine = make_engine(settings.db.url)
    load_shipped_reference(engine=engine, data_dir=settings.data_dir)
    topics = Topics.with_prefix(settings.kafka.topic_prefix)
    await ensure_topics(bootstrap=bootstrap, names=topics.all(), partitions=4)
    env = {"AUTOCLERK_KAFKA__CONCURRENCY": str(concurrency), **env}
    out: dict[str, Any] = {}
    try:
        with workers(settings=settings, bootstrap=bootstrap, n=n_workers, env=env, log=LOG) as procs:
            kw = {
                "bootstrap": bootstrap,
                "topic": topics.received,
                "engine": engine,
                "procs": procs,
                "others": others,
            }
            # Warm-up: every worker joined and each partition's path ran once.
            await _phase(**kw, events=events[: 4 * n_workers], tag=f"{name}-warm-")
            burst = await _phase(**kw, events=events, tag=f"{name}-burst-")
            out["burst"] = burst
            for share in (0.5, 0.9) if paced_n else ():
                rate = burst["docs_per_s"] * share
                paced = await _phase(**kw, events=events[:paced_n], tag=f"{name}-p{share}-", rate=rate)
                out[f"paced_{int(share * 100)}pct"] = {"offered_docs_per_s": round(rate, 1), **paced}
    finally:
        engine.dispose()
    return out


async def _bare_model(settings: Settings, events: list[Envelope[DocumentReceived]]) -> float:
    """CPU seconds per document of the models alone, in this process."""
    migrate(settings.db.url)
    async with open_runtime(settings) as runtime:
        await bare_model_cpu_s(runtime, events[:4])  # first calls load lazily
        return await bare_model_cpu_s(runtime, events) / len(events)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Settings()
    ensure_models(models_dir=base.models.dir, data_dir=base.data_dir)
    docs = sample_documents(data_dir=base.data_dir)
    events = [received_event(docs[i % len(docs)]) for i in range(args.n)]
    mean_bytes = int(statistics.mean(len(e.model_dump_json()) for e in events))
    tmp = Path(tempfile.mkdtemp(prefix="autoclerk-bench-"))
    model_s = await _bare_model(_settings(base, tmp, "bare"), events[: min(args.n, 300)])
    out: dict[str, Any] = {
        "documents": args.n,
        "workers": args.workers,
        "mean_event_bytes": mean_bytes,
        "bare_model_docs_per_s": round(1 / model_s, 1),
        "model_cpu_ms_per_doc": round(model_s * 1000, 2),
    }
    async with EmbeddedBroker() as broker:
        floor = await consume_produce_baseline(
            bootstrap=broker.bootstrap, n_messages=max(args.n, 2000), payload=b"x" * mean_bytes
        )
        out["bare_consume_produce_msgs_per_s"] = round(floor, 1)
        local = await _pipeline(
            bootstrap=broker.bootstrap,
            settings=_settings(base, tmp, "local"),
            events=events,
            n_workers=args.workers,
            concurrency=args.concurrency,
            paced_n=args.paced_n,
            env={},
            name="local",
            others={"broker": broker.pid or 0},
        )
        burst = local["burst"]
        out["pipeline_docs_per_s"] = burst["docs_per_s"]
        out["worker_cpu_ms_per_doc"] = burst["worker_cpu_ms_per_doc"]
        out["overhead_cpu_ms_per_doc"] = round(burst["worker_cpu_ms_per_doc"] - model_s * 1000, 2)
        out["local"] = local
        out["ratio_pipeline_to_consume_produce"] = round(burst["docs_per_s"] / floor, 4)
        cores = min(args.workers, args.cores)
        out["ratio_pipeline_to_bare_model"] = round(burst["docs_per_s"] * model_s / cores, 3)
        if args.llm_n:
            answers = await printed_answers(_settings(base, tmp, "answers"), docs[: args.llm_n])
            with llm_server(latency_ms=args.llm_latency_ms, answers=answers, tmp=tmp) as server:
                llm_events = [received_event(docs[i % len(docs)]) for i in range(args.llm_n)]
                env = llm_env(server.url, concurrency=args.llm_concurrency)
                llm = await _pipeline(
                    bootstrap=broker.bootstrap,
                    settings=_settings(base, tmp, "llm"),
                    events=llm_events,
                    n_workers=args.workers,
                    concurrency=args.llm_concurrency,
                    paced_n=args.paced_n,
                    env=env,
                    name="llm",
                    others={"broker": broker.pid or 0, "llm_server": server.pid},
                )
            out["llm_latency_ms"] = args.llm_latency_ms
            out["llm_pipeline_docs_per_s"] = llm["burst"]["docs_per_s"]
            out["llm_overhead_cpu_ms_per_doc"] = llm["burst"]["worker_cpu_ms_per_doc"]
            out["llm"] = llm
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=600, help="documents in the local-extractor burst")
    parser.add_argument("--paced-n", type=int, default=200, help="documents per paced run (0: none)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2, help="cores the workers may use (for the ratio)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--llm-n", type=int, default=1024, help="documents in the LLM burst (0: skip)")
    parser.add_argument("--llm-concurrency", type=int, default=64)
    parser.add_argument("--llm-latency-ms", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few documents")
    args = parser.parse_args()
    if args.quick:
        args.n, args.paced_n, args.llm_n = 120, 40, 256
    threadpool_limits(limits=1, user_api="openmp")
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
