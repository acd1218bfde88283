"""Replay throughput on the shipped sample, against the first pass in the same run.

The sample (SROIE receipts as invoices and Synthea claims) goes through the service
in process, as a worker runs it: that first pass is the baseline. Then over the same
documents: a shadow replay (candidate = the serving versions; nothing written but the
replay's rows), a live replay with the serving rules (nearly every outcome unchanged:
the workflow runs, little is written), and a live replay after a rule change that
moves outcomes (supersede: history row, new decision, two outbox rows and publishes to
the embedded broker). Also the storage a copy of each original message would add.

    .venv/bin/python -m bench.replay [--n 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from threadpoolctl import threadpool_limits

from autoclerk.bootstrap import Runtime, open_runtime
from autoclerk.reference import load_shipped_reference
from autoclerk.replay import ReplayRequest, run_replay
from autoclerk.samples import received_event, sample_documents
from feedback.models import ensure_models
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.db.tables import DocumentRow
from infra.kafka import ensure_topics
from infra.settings import KafkaSettings, Settings
from schemas.messages import MessageMeta, Topics
from schemas.replay import ReplayOptions, ReplaySelection

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


async def first_pass(rt: Runtime, raws: list[bytes], concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int, raw: bytes) -> None:
        async with slots:
            await rt.service.on_received(
                raw=raw, meta=MessageMeta(topic=rt.topics.received, partition=0, offset=i)
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i, r) for i, r in enumerate(raws)))
    return time.perf_counter() - t0


async def timed_replay(
    settings: Settings, rt: Runtime, request: ReplayRequest
) -> tuple[float, dict[str, int]]:
    t0 = time.perf_counter()
    out = await run_replay(
        settings,
        request,
        stop=asyncio.Event(),
        progress=lambda _: None,
        database=rt.database,
        adapters=rt.adapters,
    )
    return time.perf_counter() - t0, dict(out.results)


def changed_rules(src: Path, dst: Path) -> Path:
    """A copy of the graphs where every invoice above 5 needs approval, whatever the
    vendor's limit: straight-through receipts move to review."""
    shutil.copytree(src, dst)
    graph = dst / "invoice_approval.json"
    graph.write_text(graph.read_text().replace('"> approval.threshold"', '"> 5"'))
    return dst


def storage(engine: Any, raws: list[bytes]) -> dict[str, Any]:
    with engine.connect() as c:
        rows = c.execute(
            select(DocumentRow.text, DocumentRow.layout, DocumentRow.pages, DocumentRow.original_pdf)
        )
        kept = sum(
            len(t) + len(json.dumps(lay)) + len(json.dumps(p or [])) + len(pdf or b"")
            for t, lay, p, pdf in rows
        )
        n = c.execute(select(func.count()).select_from(DocumentRow)).scalar_one()
    return {
        "originals_bytes_per_doc": round(sum(map(len, raws)) / len(raws)),
        "documents_row_bytes_per_doc": round(kept / n),
    }


async def run(n: int, concurrency: int) -> dict[str, Any]:
    base = Settings()
    ensure_models(models_dir=base.models.dir, data_dir=base.data_dir)
    raws = [
        received_event(d).model_dump_json().encode()
        for d in sample_documents(data_dir=base.data_dir, limit=n)
    ]
    tmp = Path(tempfile.mkdtemp(prefix="autoclerk-bench-replay-"))
    async with EmbeddedBroker() as broker:
        prefix = f"bench-replay-{int(time.time())}"
        settings = base.model_copy(
            update={
                "db": base.db.model_copy(update={"url": f"sqlite:///{tmp / 'bench.db'}"}),
                "kafka": KafkaSettings(topic_prefix=prefix, bootstrap=broker.bootstrap),
            }
        )
        await ensure_topics(bootstrap=broker.bootstrap, names=Topics.with_prefix(prefix).all(), partitions=4)
        migrate(settings.db.url)
        engine = make_engine(settings.db.url)
        load_shipped_reference(engine=engine, data_dir=settings.data_dir)
        every = ReplaySelection(since=EPOCH)
        async with open_runtime(settings) as rt:
            first = await first_pass(rt, raws, concurrency)
            shadow, shadow_results = await timed_replay(
                settings, rt, ReplayRequest("shadow", every, ReplayOptions(), concurrency=concurrency)
            )
            live, live_results = await timed_replay(
                settings, rt, ReplayRequest("live", every, concurrency=concurrency)
            )
        moved = settings.model_copy(update={"rules_dir": changed_rules(settings.rules_dir, tmp / "rules")})
        async with open_runtime(moved) as rt2:
            fix, fix_results = await timed_replay(
                moved, rt2, ReplayRequest("live", every, concurrency=concurrency)
            )
    out = {
        "documents": len(raws),
        "concurrency": concurrency,
        "first_pass_docs_per_s": round(len(raws) / first, 1),
        "shadow_docs_per_s": round(len(raws) / shadow, 1),
        "live_unchanged_docs_per_s": round(len(raws) / live, 1),
        "live_after_rule_change_docs_per_s": round(len(raws) / fix, 1),
        "ratio_shadow_to_first_pass": round(first / shadow, 3),
        "ratio_live_unchanged_to_first_pass": round(first / live, 3),
        "ratio_live_after_rule_change_to_first_pass": round(first / fix, 3),
        "shadow_results": shadow_results,
        "live_unchanged_results": live_results,
        "live_after_rule_change_results": fix_results,
        **storage(engine, raws),
        "database_bytes": (tmp / "bench.db").stat().st_size,
    }
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="openmp")
    print(json.dumps(asyncio.run(run(args.n, args.concurrency)), indent=2))


if __name__ == "__main__":
    main()
