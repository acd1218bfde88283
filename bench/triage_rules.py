"""Triage + rules added latency per document at an offered load (issue 4's budget).

    .venv/bin/python -m bench.triage_rules [--n 1000] [--rate 1000] [--shared /work/shared/data]

An asyncio loop issues documents on a fixed schedule (`--rate` per second); each one
goes through `OnnxTriageClassifier.classify` (micro-batched) and then
`ZenRulesEvaluator.evaluate` with trace, on the loop as the workflow's rules node runs
it. Latency counts from the scheduled issue time, so falling behind shows. The same
run measures the bare parts one document at a time. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from agents.triage import OnnxTriageClassifier, train_triage
from bench.rules import GRAPHS, NOW, claim, invoice
from bench.triage import documents
from rules.evaluator import ZenRulesEvaluator
from schemas.document import Document


def _ms(samples: list[float]) -> dict[str, float]:
    a = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3)}


async def offered(
    clf: OnnxTriageClassifier, ev: ZenRulesEvaluator, docs: list[Document], rate: float
) -> dict[str, Any]:
    rng = random.Random(0)
    cases = [invoice(i, rng) if d.kind == "invoice" else claim(i, rng) for i, d in enumerate(docs)]
    loop = asyncio.get_running_loop()
    latencies: list[float] = []

    async def one(i: int, due: float) -> None:
        await asyncio.sleep(max(0.0, due - loop.time()))
        triage = await clf.classify(docs[i])
        _, ext, _, ref = cases[i]
        ev.evaluate(document=docs[i], extraction=ext, triage=triage, reference=ref, now=NOW)
        latencies.append(loop.time() - due)

    start = loop.time() + 0.05
    t0 = time.perf_counter()
    await asyncio.gather(*(one(i, start + i / rate) for i in range(len(docs))))
    return {"offered_docs_s": rate, "achieved_docs_s": round(len(docs) / (time.perf_counter() - t0), 1),
            **_ms(latencies)}  # fmt: skip


def bare(clf: OnnxTriageClassifier, ev: ZenRulesEvaluator, docs: list[Document]) -> dict[str, Any]:
    rng = random.Random(0)
    cases = [invoice(i, rng) if d.kind == "invoice" else claim(i, rng) for i, d in enumerate(docs)]
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


async def run(args: argparse.Namespace) -> dict[str, Any]:
    train, _ = documents(args.shared)
    docs: list[Document] = (train * (args.n // len(train) + 1))[: args.n]
    random.Random(1).shuffle(docs)
    with tempfile.TemporaryDirectory() as tmp:
        artifact = train_triage(documents=train, out_dir=Path(tmp))
        ev = ZenRulesEvaluator.load(GRAPHS, trace=True)
        async with OnnxTriageClassifier.load(artifact, prefer_gpu=False, max_wait_ms=args.max_wait_ms) as clf:
            out: dict[str, Any] = {"documents": args.n, "providers": clf.providers,
                                   "max_wait_ms": args.max_wait_ms}  # fmt: skip
            out["bare"] = bare(clf, ev, docs)
            out["triage_plus_rules_offered"] = await offered(clf, ev, docs, args.rate)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--max-wait-ms", type=float, default=1.0)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args()
    with threadpool_limits(1, "openmp"):
        print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
