"""Operations endpoints of the review service: `/healthz`, `/readyz`, `/metrics`.

`/healthz` (liveness) and `/readyz` (database and broker reachable) answer anyone: a
load balancer or kubelet probes them without credentials, and they say only which
dependency is missing, never a URL or a password. `/metrics` needs a lead or admin
(an API token as `Authorization: Bearer`, which Prometheus sends with its
`authorization` scrape setting): queue depths by kind are operational data.

The gauges are read from the database at scrape time (one grouped query), so every
review process reports the same queue and Prometheus may scrape any of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.probes import broker_problem, database_problem, review_queue
from review.deps import CurrentActor

__all__ = ["ReviewOps", "router"]

router = APIRouter(include_in_schema=False)


class ReviewOps:
    """What the ops endpoints read; built by `create_app`, kept in `app.state.ops`."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        bootstrap: str | None,
        clock: Callable[[], datetime],
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.clock = clock
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.depth = Gauge("autoclerk_review_queue_depth", "Open review tasks", ["kind"], registry=r)
        self.oldest = Gauge(
            "autoclerk_review_queue_oldest_age_seconds", "Age of the oldest open task", ["kind"], registry=r
        )
        self.overdue = Gauge(
            "autoclerk_review_sla_breaches",
            "Open tasks past their due time (created + review.sla_hours, shortened for priority)",
            ["kind"],
            registry=r,
        )
        self.scrape_errors = Gauge(
            "autoclerk_review_scrape_error", "1 when the last scrape could not read the queue", registry=r
        )

    async def refresh(self) -> None:
        try:
            async with asyncio.timeout(3.0):
                stats = await review_queue(self.engine, now=self.clock())
        except Exception:  # still answer the scrape; the error gauge says why it is stale
            self.scrape_errors.set(1)
            return
        self.scrape_errors.set(0)
        for gauge in (self.depth, self.oldest, self.overdue):
            gauge.clear()
        for kind in ("invoice", "claim"):  # present even at zero, so alerts see the series
            self.depth.labels(kind).set(0)
            self.oldest.labels(kind).set(0)
            self.overdue.labels(kind).set(0)
        for s in stats:
            self.depth.labels(s.kind).set(s.open)
            self.oldest.labels(s.kind).set(s.oldest_age_s)
            self.overdue.labels(s.kind).set(s.overdue)

    async def readiness(self) -> dict[str, str]:
        async def broker() -> str | None:
            return None if self.bootstrap is None else await broker_problem(self.bootstrap)

        db, kafka = await asyncio.gather(database_problem(self.engine), broker())
        return {"database": db or "ok", "broker": kafka or "ok"}


def _ops(request: Request) -> ReviewOps:
    ops: ReviewOps = request.app.state.ops
    return ops


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = await _ops(request).readiness()
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
    )


@router.get("/metrics")
async def metrics(request: Request, actor: CurrentActor) -> Response:
    actor.require("lead")
    ops = _ops(request)
    await ops.refresh()
    return Response(generate_latest(ops.registry), media_type=CONTENT_TYPE_LATEST)
