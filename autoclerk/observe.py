"""Telemetry wiring for worker processes: `/metrics` and `/readyz` beside `/healthz`.

One port per worker process (`kafka.health_port`; `autoclerk run` gives worker i the
port + i), not prometheus-client's multiprocess mode: workers are independent processes
that are restarted after a crash and, in production, separate pods; multiprocess mode
needs a shared directory wiped on every restart and cannot show live gauges (consumer
lag, backlog) per process. Prometheus scrapes each worker and sums.

What a scrape reads at that moment: consumer lag per assigned partition (faust's view:
the partition's high watermark minus the group's committed offset) and the outbox
backlog (one count query). Counters and histograms are recorded as documents go
(`agents.telemetry`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.telemetry import Telemetry
from infra.probes import broker_problem, database_problem, outbox_backlog
from infra.settings import Settings

__all__ = [
    "BacklogGauge",
    "ConsumerLag",
    "add_worker_metrics",
    "build_telemetry",
    "install_worker_pages",
    "readiness",
]

log = logging.getLogger(__name__)
_TEXT_FORMAT = CONTENT_TYPE_LATEST.rsplit("; charset", 1)[0]

Check = Callable[[], Awaitable[str | None]]
"""Returns None when ready, else the reason."""


def build_telemetry(settings: Settings) -> Telemetry:
    """The process's telemetry; traces only when `otel.endpoint` is set (SDK imported then)."""
    tracer = None
    if settings.otel.endpoint:
        from autoclerk.tracing import otlp_tracer

        tracer = otlp_tracer(endpoint=settings.otel.endpoint, service_name=settings.otel.service_name)
    return Telemetry(tracer=tracer)


class ConsumerLag(Collector):
    """`autoclerk_consumer_lag{topic,partition}` from the worker's own consumer, at scrape time."""

    def __init__(self, app: faust.App) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "autoclerk_consumer_lag",
            "Messages behind the partition's end (high watermark minus committed offset); "
            "a partition appears once a fetch has reported its high watermark",
            labels=["topic", "partition"],
        )
        owned = GaugeMetricFamily(
            "autoclerk_assigned_partitions", "Partitions this worker owns in its group", labels=["topic"]
        )
        assigned, lags = self._read()
        for topic in sorted({tp.topic for tp in assigned}):
            owned.add_metric([topic], sum(1 for tp in assigned if tp.topic == topic))
        for topic, partition, behind in lags:
            lag.add_metric([topic, str(partition)], behind)
        yield lag
        yield owned

    def _read(self) -> tuple[set[Any], list[tuple[str, int, float]]]:
        try:
            consumer = self._app.consumer
            assigned = set(consumer.assignment())
        except Exception:  # not started, or rebalancing: nothing assigned to report
            return set(), []
        # faust keeps the group's committed offsets per partition; no public accessor.
        committed: dict[Any, int | None] = getattr(consumer, "_committed_offset", {})
        out = []
        for tp in sorted(assigned):
            try:
                high = consumer.highwater(tp)
            except Exception:
                continue
            if high is None:  # no fetch has answered for it yet
                continue
            done = committed.get(tp)
            out.append((tp.topic, tp.partition, float(max(0, high - (done or 0)))))
        return assigned, out


def readiness(checks: dict[str, Check]) -> Callable[[], Awaitable[tuple[bool, dict[str, str]]]]:
    """Run every check concurrently: (ready, {name: "ok" or the reason})."""

    async def ready() -> tuple[bool, dict[str, str]]:
        names = list(checks)
        results = await asyncio.gather(*(checks[n]() for n in names), return_exceptions=True)
        report = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                report[name] = f"check failed: {type(result).__name__}"
            else:
                report[name] = result or "ok"
        return all(v == "ok" for v in report.values()), report

    return ready


def install_worker_pages(
    app: faust.App,
    *,
    telemetry: Telemetry,
    bootstrap: str,
    engine: Callable[[], Awaitable[AsyncEngine]],
) -> None:
    """`GET /metrics` and `GET /readyz` on the worker's web server (127.0.0.1).

    `engine` opens the worker's runtime (database, models) on first use and returns
    its engine: a readiness probe thereby loads the models before traffic arrives, and
    reports a runtime that cannot open as not ready, with the reason.
    """
    backlog = add_worker_metrics(telemetry, app)

    async def runtime_problem() -> str | None:
        try:
            await engine()
        except Exception as exc:
            return f"models or database not loaded: {type(exc).__name__}: {exc}"[:300]
        return None

    async def db_problem() -> str | None:
        return await database_problem(await engine())

    ready = readiness(
        {
            "broker": lambda: broker_problem(bootstrap),
            "runtime": runtime_problem,
            "database": db_problem,
        }
    )

    async def readyz(self: Any, request: Any) -> Any:
        ok, report = await ready()
        return self.json(
            {"status": "ready" if ok else "not ready", "checks": report}, status=200 if ok else 503
        )

    async def metrics(self: Any, request: Any) -> Any:
        await backlog.refresh(engine)
        # aiohttp takes the charset apart from the type (prometheus' text format is UTF-8)
        return self.bytes(generate_latest(telemetry.registry), content_type=_TEXT_FORMAT)

    app.page("/readyz")(readyz)
    app.page("/metrics")(metrics)


def add_worker_metrics(telemetry: Telemetry, app: faust.App) -> BacklogGauge:
    """The gauges only a worker reads: consumer lag (from `app`) and the outbox backlog."""
    telemetry.registry.register(ConsumerLag(app))
    return BacklogGauge(telemetry)


class BacklogGauge:
    def __init__(self, telemetry: Telemetry) -> None:
        self._gauge = Gauge(
            "autoclerk_outbox_backlog",
            "Outbox messages neither published nor failed (-1: the database did not answer)",
            registry=telemetry.registry,
        )

    async def refresh(self, engine: Callable[[], Awaitable[AsyncEngine]]) -> None:
        try:
            async with asyncio.timeout(3.0):
                self._gauge.set(await outbox_backlog(await engine()))
        except Exception as exc:  # a scrape must still answer while the database is down
            log.warning("outbox backlog not read: %s", type(exc).__name__)
            self._gauge.set(-1)
