"""Review UI server time with a 10,000-task backlog, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.review [--tasks 10000] [--n 200] [--pg URL]

Seeds open review tasks (with documents, extraction, triage and rule results) and
10,000 decisions spread over 14 days, then times requests through the ASGI app in
process (httpx ASGITransport: no network, so this is server time plus a thin client):
the queue page, a filtered queue page, the task page, the dashboard, and next-task
(once holding a lease, and as a lease + release pair that takes a fresh task each
time). Prints p50/p99 in ms, JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy import create_engine, insert, text

from infra.db.engine import make_async_engine, make_engine, migrate
from infra.db.tables import (
    DecisionRow,
    DocumentRow,
    ExtractionRow,
    ReviewTaskRow,
    ReviewUserRow,
    RuleResultRow,
    TriageRow,
)
from infra.settings import Settings
from review.app import create_app

PASSWORD = "bench-password-123"
REASONS = ["low_confidence", "duplicate", "over_threshold", "policy_inactive", "missing_po"]
FIELDS = ["vendor_name", "invoice_number", "issue_date", "currency", "total", "tax"]


class NullPublisher:
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, *, topic: str, key: bytes, value: bytes) -> None: ...


def seed(url: str, schema: str | None, *, tasks: int, decisions: int) -> list[str]:
    migrate(url, schema=schema)
    engine = make_engine(url, schema=schema)
    rng = random.Random(7)
    now = datetime.now(UTC)
    text_body = "INVOICE\n" + "\n".join(f"line {i}: item {i} 12.50" for i in range(30))
    docs, ext, tri, rul, tsk, dec, ids = [], [], [], [], [], [], []
    for i in range(tasks + decisions):
        doc_id = f"bench-{i:06d}"
        age = timedelta(minutes=rng.randint(0, 14 * 24 * 60))
        docs.append(
            dict(
                document_id=doc_id,
                event_id=str(uuid.uuid4()),
                kind="invoice",
                content_hash=doc_id,
                text=text_body,
                layout=[],
                doc_metadata={},
                source="bench",
                status="review" if i < tasks else "decided",
                received_at=now - age,
            )
        )
        if i >= tasks:
            dec.append(
                dict(
                    document_id=doc_id,
                    outcome="approve",
                    decided_by=rng.choice(["auto"] * 3 + ["human"]),
                    reasons=[],
                    fields={},
                    model_versions={},
                    created_at=now - age,
                )
            )
            continue
        reason = rng.choice(REASONS)
        fields = {f: {"value": f"v{i}", "confidence": round(rng.random(), 2)} for f in FIELDS}
        ext.append(
            dict(
                document_id=doc_id,
                model_version="x",
                result={"kind": "invoice", "fields": fields, "model_version": "x"},
                created_at=now - age,
            )
        )
        tri.append(
            dict(
                document_id=doc_id,
                model_version="t",
                predicted_kind="invoice",
                risk=0.2,
                result={"risk": 0.2},
                created_at=now - age,
            )
        )
        rul.append(
            dict(
                document_id=doc_id,
                rules_version="r",
                outcome="review",
                created_at=now - age,
                reasons=[{"code": reason, "message": reason}],
                trace={"n": i},
            )
        )
        task_id = str(uuid.uuid5(uuid.NAMESPACE_URL, doc_id))
        tsk.append(
            dict(
                task_id=task_id,
                document_id=doc_id,
                kind="invoice",
                status="open",
                priority=rng.randint(0, 100),
                due_at=now - age + timedelta(hours=24),
                reasons=[{"code": reason, "message": reason}],
                primary_reason=reason,
                created_at=now - age,
            )
        )
        ids.append(task_id)
    with engine.begin() as c:
        for table, rows in (
            (DocumentRow, docs),
            (ExtractionRow, ext),
            (TriageRow, tri),
            (RuleResultRow, rul),
            (ReviewTaskRow, tsk),
            (DecisionRow, dec),
        ):
            for k in range(0, len(rows), 2000):
                c.execute(insert(table), rows[k : k + 2000])
        c.execute(
            insert(ReviewUserRow),
            [
                dict(
                    username="bench",
                    password_hash=PasswordHasher().hash(PASSWORD),
                    role="lead",
                    active=True,
                    created_at=now,
                )
            ],
        )
        if engine.dialect.name == "postgresql":
            c.execute(text("ANALYZE"))
    engine.dispose()
    return ids


def pct(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "p50_ms": round(statistics.median(s), 2),
        "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))], 2),
        "n": len(s),
    }


async def timed(n: int, call: Callable[[int], Awaitable[httpx.Response]]) -> dict[str, float]:
    await call(0)  # warm caches and compiled statements once
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        r = await call(i)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code < 400, (r.status_code, r.text[:200])
    return pct(out)


async def measure(url: str, schema: str | None, ids: list[str], *, n: int) -> dict[str, Any]:
    settings = Settings()
    settings.review.secret_key = SecretStr(secrets.token_urlsafe(48))
    engine = make_async_engine(url, schema=schema)
    app = create_app(settings=settings, engine=engine, publisher=NullPublisher())
    rng = random.Random(3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
        page = await c.get("/login")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        await c.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": csrf})
        csrf = (await c.get("/queue")).text.split('name="csrf_token" value="')[1].split('"')[0]
        h = {"X-CSRF-Token": csrf}

        async def next_and_release(_: int) -> httpx.Response:
            r = await c.post("/api/tasks/next", headers=h)
            await c.post(f"/api/tasks/{r.json()['task_id']}/release", headers=h)
            return r

        result = {
            "queue_page": await timed(n, lambda _: c.get("/queue")),
            "queue_page_filtered": await timed(
                n, lambda i: c.get("/queue", params={"reason": REASONS[i % 5], "min_priority": 50})
            ),
            "task_page": await timed(n, lambda _: c.get(f"/tasks/{rng.choice(ids)}")),
            "dashboard": await timed(max(20, n // 4), lambda _: c.get("/dashboard")),
            "api_next_task": await timed(n, lambda _: c.post("/api/tasks/next", headers=h)),
        }
        # next-task above returns the held task after the first call; this pair (two requests)
        # really leases a fresh task each time.
        result["api_next_task_then_release"] = await timed(n, next_and_release)
    await engine.dispose()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--decisions", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    report: dict[str, Any] = {"tasks": args.tasks, "decisions": args.decisions}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        ids = seed(url, None, tasks=args.tasks, decisions=args.decisions)
        report["sqlite"] = asyncio.run(measure(url, None, ids, n=args.n))
    try:
        admin = create_engine(args.pg, connect_args={"connect_timeout": 3})
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # no server: report SQLite only
        report["postgresql"] = f"skipped: {type(exc).__name__}"
    else:
        try:
            ids = seed(args.pg, schema, tasks=args.tasks, decisions=args.decisions)
            report["postgresql"] = asyncio.run(measure(args.pg, schema, ids, n=args.n))
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
