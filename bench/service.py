"""In-process cost of one document: the service with the real adapters, no broker.

    .venv/bin/python -m bench.service [--n 300] [--concurrency 1 16] [--profile out.txt]

Builds the worker's runtime (`autoclerk.bootstrap.open_runtime`: real models, rules,
SQLite store and checkpointer) on a fresh database and calls
`DocumentService.on_received` then `mark_emitted` directly, as the stream edge does.
The same run calls the bare models (triage, extractor, rules) on the same documents,
so `overhead_cpu_ms_per_doc` = service CPU - model CPU, both this process's CPU time
(threads included: aiosqlite's and onnxruntime's). CPU time, not wall time, because
the machine is shared. `--profile` writes a pyinstrument summary of the service part.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from agents.decode import parse_document
from autoclerk.bootstrap import open_runtime
from autoclerk.reference import load_shipped_reference
from autoclerk.samples import received_event, sample_documents
from bench.harness import renamed
from bench.llm_standin import LLM_MODEL, llm_server, printed_answers
from feedback.models import ensure_models
from infra.db.engine import make_engine, migrate
from infra.heap import settle_heap
from infra.settings import KafkaSettings, LlmSettings, Settings
from schemas.document import LabelledDocument
from schemas.messages import MessageMeta
from schemas.verdicts import ReferenceFacts

NOW_REFERENCE = ReferenceFacts()
LAST_SPLIT: dict[str, float] = {}
"""CPU ms per document of each thread in the last service pass."""


def _settings(tmp: Path) -> Settings:
    base = Settings()
    return base.model_copy(
        update={
            "db": base.db.model_copy(update={"url": f"sqlite:///{tmp / 'bench.db'}"}),
            "kafka": KafkaSettings(topic_prefix=f"bench-{uuid.uuid4().hex[:8]}"),
        }
    )


async def bare_model_cpu_s(runtime: Any, events: list[Any], *, concurrency: int = 1) -> float:
    """CPU seconds of triage + extract + rules on every document, `concurrency` at a
    time (one for the local extractor; an LLM's answers are waited for together)."""
    a = runtime.adapters
    docs = [parse_document(e.payload, parse_pdf=a.parse_pdf) for e in events]
    clock = runtime.service._ctx.clock
    slots = asyncio.Semaphore(concurrency)

    async def one(d: Any) -> None:
        async with slots:
            tri = await a.triage.classify(d)
            ext = await a.extractor.extract(d)
            a.rules.evaluate(document=d, extraction=ext, triage=tri, reference=NOW_REFERENCE, now=clock())

    t0 = time.process_time()
    await asyncio.gather(*(one(d) for d in docs))
    return time.process_time() - t0


def _threads_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process, by Python thread name (the loop,
    `sqlite-writer_0`, `asyncio_N` for to_thread, aiosqlite's); native threads
    (onnxruntime's) summed as `native`."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        name = names.get(int(task.name), "native")
        name = name.rsplit("_", 1)[0] if name.startswith(("asyncio_", "sqlite-writer")) else name
        name = "aiosqlite" if name.startswith("Thread-") else name
        out[name] = out.get(name, 0.0) + cpu
    return out


async def _service(runtime: Any, raws: list[bytes], topic: str, concurrency: int, offset0: int) -> float:
    service = runtime.service
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int, raw: bytes) -> None:
        async with slots:
            meta = MessageMeta(topic=topic, partition=0, offset=offset0 + i, timestamp_ms=0, epoch="bench")
            out = await service.on_received(raw=raw, meta=meta)
            ids = [o.outbox_id for o in out if o.outbox_id is not None]
            await service.mark_emitted(outbox_ids=ids)

    t0, threads0 = time.process_time(), _threads_cpu()
    await asyncio.gather(*(one(i, r) for i, r in enumerate(raws)))
    threads1 = _threads_cpu()
    n = len(raws)
    split = {k: round((v - threads0.get(k, 0.0)) / n * 1000, 2) for k, v in threads1.items()}
    LAST_SPLIT.clear()
    LAST_SPLIT.update({k: v for k, v in split.items() if v > 0})
    return time.process_time() - t0


async def _profiled(runtime: Any, raws: list[bytes], topic: str, c: int, offset0: int, path: Path) -> float:
    """The service pass under two profilers: pyinstrument's sampled stacks (wall time of
    the loop thread, awaits included), and cProfile timed by this thread's CPU clock,
    which shows where the loop thread's CPU goes without the waits (other threads,
    the SQLite writer's and the extractor's, are not in it)."""
    from pyinstrument import Profiler

    sampled = Profiler(interval=0.0005, async_mode="disabled")
    exact = cProfile.Profile(time.thread_time)
    # The SQLite writer is one thread: a profiler enabled by a job on it stays on for
    # every later transaction, until a job disables it.
    writer = getattr(runtime.database.store._tx, "_thread", None)
    in_writer = cProfile.Profile(time.thread_time)
    loop = asyncio.get_running_loop()
    if writer is not None:
        await loop.run_in_executor(writer, in_writer.enable)
    sampled.start()
    exact.enable()
    cpu = await _service(runtime, raws, topic, c, offset0)
    exact.disable()
    sampled.stop()
    if writer is not None:
        await loop.run_in_executor(writer, in_writer.disable)
        in_writer.dump_stats(path.with_suffix(".writer.prof"))
    out = io.StringIO()
    out.write(sampled.output_text(unicode=False, color=False, show_all=False))
    for order in ("tottime", "cumtime"):
        out.write(f"\n# loop thread CPU by {order} (cProfile, time.thread_time)\n")
        pstats.Stats(exact, stream=out).sort_stats(order).print_stats(45)
    await asyncio.to_thread(path.write_text, out.getvalue())
    exact.dump_stats(path.with_suffix(".prof"))
    return cpu


async def run(
    n: int, concurrencies: list[int], profile: Path | None, llm_latency_ms: float | None = None
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="autoclerk-bench-service-"))
    settings = _settings(tmp)
    ensure_models(models_dir=settings.models.dir, data_dir=settings.data_dir)
    total = 1 + n * len(concurrencies)
    docs = sample_documents(data_dir=settings.data_dir)
    if llm_latency_ms is None:
        return await _run(settings, docs, n, concurrencies, profile)
    answers_db = settings.db.model_copy(update={"url": f"sqlite:///{tmp / 'answers.db'}"})
    answers = await printed_answers(settings.model_copy(update={"db": answers_db}), docs[:total])
    with llm_server(latency_ms=llm_latency_ms, answers=answers, tmp=tmp) as server:
        llm = LlmSettings(
            base_url=server.url, model=LLM_MODEL, max_concurrency=max(concurrencies), retry_window_s=0
        )
        out = await _run(settings.model_copy(update={"llm": llm}), docs, n, concurrencies, profile)
    return {"llm_latency_ms": llm_latency_ms, **out}


async def _run(
    settings: Settings, docs: list[LabelledDocument], n: int, concurrencies: list[int], profile: Path | None
) -> dict[str, Any]:
    total = 1 + n * len(concurrencies)
    plain = [received_event(docs[i % len(docs)]) for i in range(total)]
    # Each pass needs new documents: a repeated id is a duplicate, and repeated content
    # an LLM cache hit, both cheaper. `renamed` gives each a new id and a line naming it
    # (which the LLM stand-in answers by); the bare pass gets copies of its own.
    events = renamed(plain, "svc-")
    bare = renamed(plain[1 : n + 1], "bare-")
    raws = [e.model_dump_json().encode() for e in events]
    migrate(settings.db.url)
    engine = make_engine(settings.db.url)
    load_shipped_reference(engine=engine, data_dir=settings.data_dir)
    engine.dispose()
    out: dict[str, Any] = {"documents_per_pass": n}
    async with open_runtime(settings) as runtime:
        settle_heap()  # as the worker does once its runtime is open
        topic = runtime.topics.received
        await _service(runtime, raws[:1], topic, 1, 0)  # warm-up: first-call costs
        model_s = await bare_model_cpu_s(runtime, bare, concurrency=64 if settings.llm.enabled else 1)
        out["model_cpu_ms_per_doc"] = round(model_s / n * 1000, 2)
        start = 1
        for c in concurrencies:
            if profile is None:
                cpu = await _service(runtime, raws[start : start + n], topic, c, start)
            else:
                cpu = await _profiled(
                    runtime, raws[start : start + n], topic, c, start, Path(f"{profile}.c{c}.txt")
                )
            start += n
            per_doc = cpu / n * 1000
            out[f"c{c}"] = {
                "service_cpu_ms_per_doc": round(per_doc, 2),
                "overhead_cpu_ms_per_doc": round(per_doc - out["model_cpu_ms_per_doc"], 2),
                "cpu_ms_per_doc_by_thread": dict(LAST_SPLIT),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument(
        "--llm-latency-ms", type=float, default=None, help="the LLM extractor against the stand-in"
    )
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="openmp")
    result = asyncio.run(run(args.n, args.concurrency, args.profile, args.llm_latency_ms))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
