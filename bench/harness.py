"""Shared pieces of the broker benchmarks (`bench.pipeline`, `bench.soak`).

Worker processes are spawned as `autoclerk run` spawns them; their CPU time and RSS
are read from /proc (Linux), so a worker's cost is measured apart from the producer,
the broker and this process on a machine other work shares.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine, func, select
from sqlmodel import col

from autoclerk.demo import spawn_worker, stop_worker
from infra.db.tables import DeadLetterRow, DecisionRow, IngestLedger, ReviewTaskRow
from infra.settings import Settings
from schemas.document import Line
from schemas.events import DocumentReceived, Envelope

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE / 2**20


@contextmanager
def workers(
    *, settings: Settings, bootstrap: str, n: int, env: dict[str, str], log: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`n` worker processes with `env` on top of this process's environment."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(n):
            procs.append(spawn_worker(settings=settings, bootstrap=bootstrap, log_path=log))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        yield procs
    finally:
        for p in procs:
            stop_worker(p)


def outcomes(engine: Engine, prefix: str | None = None) -> int:
    """Documents with an outcome (decision, review task or dead letter) whose id starts
    with `prefix`, plus duplicates when no prefix is given."""
    like = f"{prefix}%" if prefix else "%"
    with engine.connect() as c:
        n = 0
        for table in (DecisionRow, ReviewTaskRow):
            q = select(func.count()).select_from(table).where(col(table.document_id).like(like))
            n += int(c.execute(q).scalar_one())
        n += int(c.execute(select(func.count()).select_from(DeadLetterRow)).scalar_one())
        return n


def routes(engine: Engine, prefix: str) -> dict[str, int]:
    """How the documents whose id starts with `prefix` ended: decided straight through
    or sent to review (a benchmark whose documents all go one way measures one path)."""
    with engine.connect() as c:
        out = {}
        for name, table in (("straight_through", DecisionRow), ("review", ReviewTaskRow)):
            q = select(func.count()).select_from(table).where(col(table.document_id).like(f"{prefix}%"))
            out[name] = int(c.execute(q).scalar_one())
        return out


async def wait_outcomes(
    engine: Engine, expected: int, procs: Sequence[subprocess.Popen[bytes]], timeout_s: float, prefix: str
) -> None:
    deadline = time.monotonic() + timeout_s
    while await asyncio.to_thread(outcomes, engine, prefix) < expected:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a worker died; see its log under var/logs/")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expected} outcomes not reached in {timeout_s:.0f}s")
        await asyncio.sleep(0.05)


async def publish(
    *, bootstrap: str, topic: str, events: Sequence[Envelope[DocumentReceived]], rate: float | None = None
) -> None:
    """All at once (`rate` None), or paced: event i is sent at i / rate seconds."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5 if rate is None else 0)
    await producer.start()
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        futures = []
        for i, e in enumerate(events):
            if rate is not None:
                await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            key = e.payload.document_id.encode()
            futures.append(await producer.send(topic, e.model_dump_json().encode(), key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def latencies_ms(engine: Engine, prefix: str) -> list[float]:
    """Producer timestamp → first outcome stored, for the documents of one phase."""
    like = f"{prefix}%"
    with engine.connect() as c:
        produced = dict(
            c.execute(
                select(col(IngestLedger.document_id), col(IngestLedger.timestamp_ms)).where(
                    col(IngestLedger.document_id).like(like), col(IngestLedger.status) == "accepted"
                )
            ).all()
        )
        done: dict[str, datetime] = {}
        for table in (DecisionRow, ReviewTaskRow):
            q = select(col(table.document_id), col(table.created_at)).where(col(table.document_id).like(like))
            for doc_id, t in c.execute(q):
                t = t if t.tzinfo else t.replace(tzinfo=UTC)
                done[doc_id] = min(done.get(doc_id, t), t)
    return sorted(t.timestamp() * 1000 - produced[d] for d, t in done.items() if produced.get(d) is not None)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def renamed(events: Sequence[Envelope[DocumentReceived]], prefix: str) -> list[Envelope[DocumentReceived]]:
    """The same documents under new ids, each with one line naming it: every phase
    admits them as new, and no answer cache (the LLM's is keyed by the lines) hits."""
    out = []
    for i, e in enumerate(events):
        p = e.payload
        doc_id = f"{prefix}{i}-{p.document_id}"
        marker = f"bench copy {doc_id}"
        if p.ocr_lines is not None:
            last = p.ocr_lines[-1]
            extra = Line(text=marker, page=last.page, bbox=last.bbox)
            update: dict[str, Any] = {"ocr_lines": [*p.ocr_lines, extra]}
        else:
            update = {"text": f"{p.text}\n{marker}"}
        payload = p.model_copy(update={"document_id": doc_id, **update})
        out.append(
            Envelope[DocumentReceived](type=e.type, source=e.source, correlation_id=doc_id, payload=payload)
        )
    return out


def summary(values: list[float]) -> dict[str, Any]:
    return {"p50_ms": percentile(values, 0.5), "p99_ms": percentile(values, 0.99), "n": len(values)}
