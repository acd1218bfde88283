"""A real worker process (embedded broker, SQLite file) seen from outside: /metrics after
a few documents, /readyz before and after the broker stops, and its JSON log, which names
each document by id and never holds a word of a document's text."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from agents.telemetry import STAGES
from autoclerk.publish import publish_events
from infra.broker import EmbeddedBroker
from infra.db.engine import migrate
from infra.kafka import ensure_topics
from schemas.events import DocumentReceived, Envelope
from schemas.messages import Topics
from tests.support import outcome_counts, spawn_worker, wait_until, worker_env

MARKER = "Zyxwvut-Quokka-4711"  # a word no log line may ever contain


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def events(n: int) -> list[Envelope[DocumentReceived]]:
    out = []
    for i in range(n):
        text = f"INVOICE {MARKER}\nAcme {MARKER} Ltd\nDate 2024-03-0{i + 1}\nTotal 1{i}.50 {MARKER}"
        payload = DocumentReceived(document_id=f"obs-{i}-{uuid.uuid4().hex[:6]}", kind="invoice", text=text)
        out.append(
            Envelope[DocumentReceived](type="document.received", correlation_id=f"corr-{i}", payload=payload)
        )
    return out


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10)


def test_worker_metrics_readiness_and_json_logs(tmp_path: Path, trained_models: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'autoclerk.db'}"
    prefix = f"obs-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "worker.log"
    sent = events(4)
    migrate(db_url)
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        env = worker_env(bootstrap=broker.bootstrap, prefix=prefix, db_url=db_url, models_dir=trained_models)
        env |= {"AUTOCLERK_KAFKA__HEALTH_PORT": str(port), "AUTOCLERK_LOG__FORMAT": "json"}
        worker = spawn_worker(env, log)
        try:
            asyncio.run(publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=sent))
            wait_until(
                lambda: sum(outcome_counts(db_url).values()) >= len(sent),
                timeout_s=180,
                what="outcomes",
                proc=worker,
                log=log,
            )
            ready = get(f"{base}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"broker": "ok", "runtime": "ok", "database": "ok"}
            metrics = get(f"{base}/metrics")
            assert get(f"{base}/healthz").status_code == 200
            broker.stop()
            down = get(f"{base}/readyz")
        finally:
            worker.kill()  # how it stops is tested elsewhere; with the broker gone it waits long
            worker.wait(timeout=30)

    assert down.status_code == 503, down.text
    assert "unreachable" in down.json()["checks"]["broker"]

    families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
    outcomes = sum(s.value for s in families["autoclerk_documents"].samples if s.name.endswith("_total"))
    assert outcomes == len(sent)
    counts = {
        s.labels["stage"]: s.value
        for s in families["autoclerk_stage_seconds"].samples
        if s.name.endswith("_count")
    }
    assert set(counts) == set(STAGES) and all(counts[name] >= len(sent) for name in STAGES), counts
    assert [s.value for s in families["autoclerk_outbox_backlog"].samples] == [0]
    lag = families["autoclerk_consumer_lag"].samples
    assert {s.labels["topic"] for s in lag} >= {topics.received}
    assert all(s.value >= 0 for s in lag)
    assert (
        sum(s.value for s in families["autoclerk_triage_batch_size"].samples if s.name.endswith("_count"))
        >= 1
    )

    text = log.read_text(encoding="utf-8")
    assert MARKER not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    ids = {e.payload.document_id: e.correlation_id for e in sent}
    about = [line for line in lines if line.get("document_id") in ids]
    assert {line["document_id"] for line in about} == set(ids)  # every document has its lines
    assert all(line["correlation_id"] == ids[line["document_id"]] for line in about)
