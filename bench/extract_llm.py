"""LLM extractor throughput against a local OpenAI-compatible server with fixed latency.

    .venv/bin/python -m bench.extract_llm [--latency-ms 300] [--concurrency 16 64] [--rounds 8] [--in-process]

The scripted server (tests/llm_server.py) answers every request after `latency`;
the extractor is built by `autoclerk.adapters.build_llm_extractor` with
`max_concurrency` = the concurrency under test, and `concurrency` documents are
in flight at once. With a perfect client, throughput is concurrency ÷ latency; the
ratio achieved/ideal is what our client, the `openai` SDK, JSON schemas, parsing,
normalisation and logprob placement cost. Every document is distinct (no cache
hits). The server runs in a process of its own, as a real one would, unless
`--in-process` puts it in a thread here (then it competes for this process's GIL
and the ratio is a lower bound). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from autoclerk.adapters import build_llm_extractor
from feedback.datasets import load_sroie
from infra.settings import LlmSettings
from schemas.document import Document
from tests.llm_server import Reply, ScriptedLlmServer

ANSWER = {"vendor_name": "BOOK TA .K (TAMAN DAYA) SDN BHD", "issue_date": "25/12/2018", "total": "9.00"}


def documents(n: int) -> list[Document]:
    """n distinct receipts: the shipped SROIE sample, cycled with a round marker."""
    base = load_sroie()
    out = []
    for i in range(n):
        doc = base[i % len(base)]
        out.append(
            Document.from_text(
                document_id=f"bench-{i}", kind="invoice", text=doc.text + f"\nbench copy {i // len(base)}"
            )
        )
    return out


async def measure(*, url: str, concurrency: int, latency_s: float, rounds: int) -> dict[str, Any]:
    settings = LlmSettings(base_url=url, model="gpt-4o-mini", timeout_s=30, max_concurrency=concurrency)
    extractor = build_llm_extractor(settings)
    docs = documents(concurrency * (rounds + 1))
    warm, timed = docs[:concurrency], docs[concurrency:]
    latencies: list[float] = []
    queue: asyncio.Queue[Document] = asyncio.Queue()

    async def worker() -> None:
        while not queue.empty():
            doc = queue.get_nowait()
            started = time.perf_counter()
            result = await extractor.extract(doc)
            latencies.append(time.perf_counter() - started)
            assert result.failure is None, result.failure

    try:
        await asyncio.gather(*(extractor.extract(d) for d in warm))  # connections, schema caches
        for d in timed:
            queue.put_nowait(d)
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await extractor.aclose()
    achieved = len(timed) / elapsed
    ideal = concurrency / latency_s
    latencies.sort()
    return {
        "concurrency": concurrency,
        "documents": len(timed),
        "seconds": round(elapsed, 3),
        "docs_per_s": round(achieved, 1),
        "ideal_docs_per_s": round(ideal, 1),
        "ratio_to_ideal": round(achieved / ideal, 3),
        # this process's CPU per document (client, plus the server with --in-process):
        # on a shared machine the ratio falls when others take the cores, this does not
        "client_cpu_ms_per_doc": round(1000 * cpu / len(timed), 2),
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1),
        "latency_p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1),
    }


@contextmanager
def server_url(*, latency_s: float, in_process: bool) -> Iterator[str]:
    if in_process:
        with ScriptedLlmServer(default=Reply(fields=ANSWER, delay_s=latency_s)) as server:
            yield server.url
        return
    command = [sys.executable, "-m", "tests.llm_server", "--latency-ms", str(latency_s * 1000)]
    proc = subprocess.Popen(
        [*command, "--fields", json.dumps(ANSWER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server exits when its stdin closes
        proc.wait(timeout=15)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--rounds", type=int, default=8, help="batches of `concurrency` documents timed")
    parser.add_argument("--in-process", action="store_true", help="server in a thread of this process")
    args = parser.parse_args()
    latency_s = args.latency_ms / 1000
    results = []
    with server_url(latency_s=latency_s, in_process=args.in_process) as url:
        for c in args.concurrency:
            results.append(await measure(url=url, concurrency=c, latency_s=latency_s, rounds=args.rounds))
    server = "thread" if args.in_process else "process"
    print(json.dumps({"latency_ms": args.latency_ms, "server": server, "runs": results}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
