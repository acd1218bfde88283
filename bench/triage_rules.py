"""Triage + rules added latency per document at an offered load (issue 4's budget).

    .venv/bin/python -m bench.triage_rules [--n 2000] [--rate 250 500 1000] [--processes 1 2]
        [--arrivals even poisson] [--shared /work/shared/data]

Documents are issued on a schedule (`--rate` per second in all, evenly spaced or as a
Poisson process); each one goes through `OnnxTriageClassifier.classify` (micro-batched)
and then `ZenRulesEvaluator.evaluate` with trace, on the event loop as the workflow's
rules node runs it. Latency counts from the scheduled issue time, so falling behind
shows as queueing rather than as a lower rate.

`--processes P` splits the offered load over P processes, each with its own loop,
classifier and evaluator — the way `autoclerk run --workers P` spreads partitions over
worker processes. zen-engine holds the GIL while it evaluates (two threads give no
speed-up, measured), so processes, not threads, are how rules use a second core.

The same run measures the bare parts one document at a time. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from agents.triage import OnnxTriageClassifier
from agents.triage.train import train_triage
from bench.rules import GRAPHS, NOW, Case, claim, invoice
from bench.triage import documents
from rules.evaluator import ZenRulesEvaluator
from schemas.document import Document


def _ms(samples: list[float]) -> dict[str, float]:
    a = np.array(samples) * 1000
    quantiles = (("p50_ms", 50), ("p99_ms", 99), ("max_ms", 100))
    return {name: round(float(np.percentile(a, q)), 3) for name, q in quantiles}


def _cases(docs: list[Document]) -> list[Case]:
    rng = random.Random(0)
    return [invoice(i, rng) if d.kind == "invoice" else claim(i, rng) for i, d in enumerate(docs)]


def schedule(*, n: int, rate: float, arrivals: str, seed: int) -> list[float]:
    """Issue offsets in seconds from the start."""
    if arrivals == "even":
        return [i / rate for i in range(n)]
    gaps = np.random.default_rng(seed).exponential(1.0 / rate, size=n)
    return list(np.cumsum(gaps) - gaps[0])


async def offered(
    clf: OnnxTriageClassifier,
    ev: ZenRulesEvaluator,
    docs: list[Document],
    cases: list[Case],
    offsets: list[float],
    start_wall: float,
) -> list[float]:
    loop = asyncio.get_running_loop()
    start = loop.time() + (start_wall - time.time())
    latencies: list[float] = []

    async def one(i: int, due: float) -> None:
        await asyncio.sleep(max(0.0, due - loop.time()))
        triage = await clf.classify(docs[i])
        _, ext, _, ref = cases[i]
        ev.evaluate(document=docs[i], extraction=ext, triage=triage, reference=ref, now=NOW)
        latencies.append(loop.time() - due)

    await asyncio.gather(*(one(i, start + off) for i, off in enumerate(offsets)))
    return latencies


def bare(clf: OnnxTriageClassifier, ev: ZenRulesEvaluator, docs: list[Document]) -> dict[str, Any]:
    cases = _cases(docs)
    tri, rules, batch = [], [], []
    for i, d in enumerate(docs):
        s = time.perf_counter()
        result = clf.classify_many([d])[0]
        tri.append(time.perf_counter() - s)
        _, ext, _, ref = cases[i]
        s = time.perf_counter()
        ev.evaluate(document=d, extraction=ext, triage=result, reference=ref, now=NOW)
        rules.append(time.perf_counter() - s)
    for i in range(0, len(docs), 32):
        s = time.perf_counter()
        clf.classify_many(docs[i : i + 32])
        batch.append((time.perf_counter() - s) / len(docs[i : i + 32]))
    return {"triage_one_at_a_time": _ms(tri), "triage_batch_32_per_doc": _ms(batch),
            "rules_with_trace": _ms(rules)}  # fmt: skip


def _child(  # a spawned process gets its arguments positionally
    artifact: Path, docs: list[Document], offsets: list[float], max_wait_ms: float,
    ready: Any, go: Any, start_wall: Any, out: Any,
) -> None:  # fmt: skip
    async def main() -> tuple[list[float], float]:
        ev = ZenRulesEvaluator.load(GRAPHS, trace=True)
        cases = _cases(docs)  # built before the clock starts: only triage + rules are timed
        async with OnnxTriageClassifier.load(artifact, prefer_gpu=False, max_wait_ms=max_wait_ms) as clf:
            bare(clf, ev, docs[:200])  # warm both parts the way the bare pass does in the parent
            ready.put(True)
            await asyncio.to_thread(go.wait)
            cpu = time.process_time()
            latencies = await offered(clf, ev, docs, cases, offsets, start_wall.value)
            return latencies, time.process_time() - cpu

    with threadpool_limits(1, "openmp"):
        out.put(asyncio.run(main()))


def run_offered(
    *, artifact: Path, docs: list[Document], rate: float, processes: int, arrivals: str, max_wait_ms: float
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")  # onnxruntime and the zen engine are built inside each child
    ready, out, go, start_wall = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    children = []
    for p in range(processes):
        mine = docs[p::processes]
        offsets = schedule(n=len(mine), rate=rate / processes, arrivals=arrivals, seed=p)
        args = (artifact, mine, offsets, max_wait_ms, ready, go, start_wall, out)
        children.append(ctx.Process(target=_child, args=args, daemon=True))
    for c in children:
        c.start()
    for _ in children:
        ready.get(timeout=300)
    start_wall.value = time.time() + 0.2
    go.set()
    results = [out.get(timeout=600) for _ in children]
    elapsed = time.time() - start_wall.value
    for c in children:
        c.join(timeout=30)
    latencies = [x for lat, _ in results for x in lat]
    cpu = sum(c for _, c in results)
    # CPU seconds per document across all threads (ORT's included): what a core must
    # supply per document, so rate x this is the number of cores the load keeps busy.
    return {"processes": processes, "arrivals": arrivals, "offered_docs_s": rate,
            "achieved_docs_s": round(len(docs) / elapsed, 1),
            "cpu_ms_per_doc": round(1000 * cpu / len(docs), 3),
            "busy_cores": round(cpu / elapsed, 2), **_ms(latencies)}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    train, _ = documents(args.shared)
    docs: list[Document] = (train * (args.n // len(train) + 1))[: args.n]
    random.Random(1).shuffle(docs)
    with tempfile.TemporaryDirectory() as tmp:
        artifact = train_triage(documents=train, out_dir=Path(tmp))
        ev = ZenRulesEvaluator.load(GRAPHS, trace=True)

        async def bare_pass() -> dict[str, Any]:
            async with OnnxTriageClassifier.load(artifact, prefer_gpu=False) as clf:
                return {"providers": clf.providers, **bare(clf, ev, docs[:1000])}

        out: dict[str, Any] = {"documents": args.n, "max_wait_ms": args.max_wait_ms,
                               "bare": asyncio.run(bare_pass()), "offered": []}  # fmt: skip
        for arrivals in args.arrivals:
            for rate in args.rate:
                for processes in args.processes:
                    result = run_offered(
                        artifact=artifact, docs=docs, rate=rate, processes=processes,
                        arrivals=arrivals, max_wait_ms=args.max_wait_ms,
                    )  # fmt: skip
                    out["offered"].append(result)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rate", type=float, nargs="+", default=[250.0, 500.0, 1000.0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--arrivals", nargs="+", choices=["even", "poisson"], default=["even", "poisson"])
    parser.add_argument("--max-wait-ms", type=float, default=0.0)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args()
    with threadpool_limits(1, "openmp"):
        print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
