"""The review service's ops endpoints on real databases: /metrics only for leads and
admins (by API token), queue gauges from the database, /readyz naming what is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.broker import EmbeddedBroker
from review.auth import create_token
from tests.review_support import client, make_settings, review_app, seed_tasks


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_need_a_lead_and_report_the_queue(db: tuple[str, str | None]) -> None:
    url, schema = db
    seed_tasks(url, schema, n=3)
    async with review_app(url, schema) as (app, engine):
        async with async_sessionmaker(engine)() as s:
            reviewer = await create_token(s, username="ana", name="t")
            lead = await create_token(s, username="lee", name="t")
        async with client(app) as c:
            anonymous = await c.get("/metrics")
            assert anonymous.status_code == 401, anonymous.text  # JSON, not a login redirect
            assert anonymous.json()["error"] == "NotAuthenticated"
            wrong = await c.get("/metrics", headers={"Authorization": f"Bearer {reviewer}"})
            assert wrong.status_code == 403, wrong.text
            ok = await c.get("/metrics", headers={"Authorization": f"Bearer {lead}"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain")
    got = samples(ok.text)
    depth = sum(v for (name, _), v in got.items() if name == "autoclerk_review_queue_depth")
    assert depth == 3
    oldest = max(v for (name, _), v in got.items() if name == "autoclerk_review_queue_oldest_age_seconds")
    assert oldest >= 0
    assert got[("autoclerk_review_scrape_error", ())] == 0


async def test_overdue_tasks_count_as_sla_breaches(sqlite_url: str) -> None:
    seed_tasks(sqlite_url, None, n=2)
    async with review_app(sqlite_url, None) as (app, engine):
        async with async_sessionmaker(engine)() as s:
            lead = await create_token(s, username="lee", name="t")
        # Two days later every seeded task (due within the 24 h SLA) is overdue.
        app.state.ops.clock = lambda: datetime.now(UTC) + timedelta(days=2)
        async with client(app) as c:
            r = await c.get("/metrics", headers={"Authorization": f"Bearer {lead}"})
    got = samples(r.text)
    assert sum(v for (name, _), v in got.items() if name == "autoclerk_review_sla_breaches") == 2


async def test_readyz_reports_the_broker_and_database(sqlite_url: str) -> None:
    settings = make_settings()
    with EmbeddedBroker() as broker:
        settings.kafka.bootstrap = broker.bootstrap
        async with review_app(sqlite_url, None, settings=settings) as (app, _), client(app) as c:
            assert (await c.get("/healthz")).json() == {"status": "ok"}
            ready = await c.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
            broker.stop()
            down = await c.get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["database"] == "ok"
    assert "unreachable" in down.json()["checks"]["broker"]
