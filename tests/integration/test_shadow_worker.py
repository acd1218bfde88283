"""Shadows beside real workers on the real broker: an LLM shadow (the local test server),
a local extractor version at a share of documents, and an LLM shadow whose budget runs
out. Every run decides exactly as the run without a shadow; the readings are stored
and `autoclerk models shadow-report` reads them back."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session
from typer.testing import CliRunner

from agents.extract.train import train_local_extractor
from agents.shadow import chosen
from autoclerk.cli import app as cli
from autoclerk.publish import publish_events
from autoclerk.samples import received_event
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.db.tables import DecisionRow, ReviewTaskRow, ShadowPredictionRow
from infra.kafka import ensure_topics
from schemas.messages import Topics
from tests.conftest import PG_URL
from tests.llm_server import Reply, ScriptedLlmServer
from tests.support import small_corpus, spawn_worker, wait_until, worker_env

LLM_MODEL = "shadow-llm"  # priced by the test: $1 per thousand prompt tokens
PRICES = json.dumps({LLM_MODEL: ["1000", "0"]})


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with EmbeddedBroker() as b:
        yield b.bootstrap


@pytest.fixture
def pg_url(pg_reason: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database for one worker (workers take a URL, not a schema)."""
    if pg_reason:
        yield None
        return
    name = f"shadow_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _outcomes(db_url: str) -> dict[str, Any]:
    """document id → what happened to it: the decision, or the review task's reasons."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            out: dict[str, Any] = {
                d.document_id: ("decided", d.outcome, d.fields, d.model_versions, d.reasons)
                for d in s.execute(select(DecisionRow)).scalars()
            }
            for t in s.execute(select(ReviewTaskRow)).scalars():
                out[t.document_id] = ("review", t.primary_reason, t.reasons)
            return out
    finally:
        engine.dispose()


def _shadow_rows(db_url: str) -> list[ShadowPredictionRow]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            return list(s.execute(select(ShadowPredictionRow)).scalars())
    finally:
        engine.dispose()


@dataclass
class Run:
    name: str
    db_url: str
    env: dict[str, str]


def _run_all(broker: str, tmp: Path, models: Path, events: list[Any], runs: list[Run]) -> dict[str, Any]:
    """One worker per run, each on its own topics and database, all at once (the waits
    for group joins overlap), until every document has an outcome in every database."""
    workers = []
    try:
        for run in runs:
            prefix = f"sh{run.name}{uuid.uuid4().hex[:8]}"
            migrate(run.db_url)
            topics = Topics.with_prefix(prefix)
            asyncio.run(ensure_topics(bootstrap=broker, names=topics.all(), partitions=2))
            env = {
                **worker_env(bootstrap=broker, prefix=prefix, db_url=run.db_url, models_dir=models),
                **run.env,
            }
            log = tmp / f"{run.name}.log"
            workers.append((run, spawn_worker(env, log), log))
            asyncio.run(publish_events(bootstrap=broker, topic=topics.received, events=events))
        for run, proc, log in workers:
            wait_until(
                lambda: len(_outcomes(run.db_url)) == len(events),  # noqa: B023 - called at once
                timeout_s=600,
                what=run.name,
                proc=proc,
                log=log,
            )
    finally:
        for _, proc, _ in workers:
            proc.terminate()
        for _, proc, _ in workers:
            proc.wait(timeout=60)
    return {run.name: _outcomes(run.db_url) for run in runs}


@pytest.mark.timeout(900)  # four worker processes; on a loaded 2-core machine minutes, not seconds
def test_shadows_never_change_decisions(
    broker: str, trained_models: Path, tmp_path: Path, pg_url: str | None
) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained_models, models)
    train, test = small_corpus()
    candidate = train_local_extractor(documents=train[::4], out_dir=tmp_path / "candidate")
    shutil.copytree(candidate, models / "extractor" / candidate.name)
    docs = [d for d in test if d.kind == "invoice"][:5] + [d for d in test if d.kind == "claim"][:3]
    assert 0 < sum(chosen(d.document_id, share=0.5) for d in docs) < len(docs)  # a real half
    events = [received_event(d) for d in docs]

    def db(name: str) -> str:
        return f"sqlite:///{tmp_path / name}.db"

    reply = Reply(fields={"vendor_name": "Shadow Mart", "total": "10.00"}, delay_s=0.01)
    with ScriptedLlmServer(default=reply) as llm:
        llm_db = pg_url or db("llm")
        spec = f"llm:{LLM_MODEL}@{llm.url}"
        local_ref = f"extractor/{candidate.name}"
        llm_env = {"AUTOCLERK_MODELS__SHADOW_REF": spec, "AUTOCLERK_LLM__PRICES_PER_MTOK": PRICES}
        runs = [
            Run("base", db("base"), {}),
            Run("llm", llm_db, {**llm_env, "AUTOCLERK_MODELS__SHADOW_SHARE": "1"}),
            Run(
                "local",
                db("local"),
                {"AUTOCLERK_MODELS__SHADOW_REF": local_ref, "AUTOCLERK_MODELS__SHADOW_SHARE": "0.5"},
            ),
            Run(
                "budget",
                db("budget"),
                {
                    **llm_env,
                    "AUTOCLERK_MODELS__SHADOW_SHARE": "1",
                    "AUTOCLERK_MODELS__SHADOW_BUDGET_USD": "0.5",
                    "AUTOCLERK_KAFKA__CONCURRENCY": "1",
                },
            ),
        ]
        outcomes = _run_all(broker, tmp_path, models, events, runs)
        llm_calls = len(llm.requests)

    baseline = outcomes["base"]
    assert len(baseline) == len(docs)
    assert outcomes["llm"] == baseline and outcomes["local"] == baseline and outcomes["budget"] == baseline

    rows = _shadow_rows(llm_db)
    assert sorted(r.document_id for r in rows) == sorted(d.document_id for d in docs)
    assert all(r.failure is None and r.shadow["model_version"].startswith(f"llm:{LLM_MODEL}:") for r in rows)
    # both LLM runs paid for each distinct text once at most (duplicates hit the cache)
    assert len({tuple(line.text for line in d.lines) for d in docs}) <= llm_calls <= 2 * len(docs)
    assert all(
        r.cost_usd is not None and r.cost_usd > 0 for r in rows if r.shadow["notes"]["cache"] == "miss"
    )

    local_rows = _shadow_rows(db("local"))
    assert sorted(r.document_id for r in local_rows) == sorted(
        d.document_id for d in docs if chosen(d.document_id, share=0.5)
    )
    assert {r.model_version for r in local_rows} == {candidate.name}

    spent = sorted(_shadow_rows(db("budget")), key=lambda r: r.id or 0)
    assert 0 < len(spent) < len(docs)  # the shadow stopped; every document was still decided
    assert sum(r.cost_usd or 0 for r in spent[:-1]) < 0.5 <= sum(r.cost_usd or 0 for r in spent)

    env = {"AUTOCLERK_DB__URL": db("local"), "AUTOCLERK_MODELS__DIR": str(models), "COLUMNS": "200"}
    shown = CliRunner().invoke(cli, ["models", "shadow-report", local_ref, "--json"], env=env)
    assert shown.exit_code == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["documents"] == len(local_rows) and report["versions"] == [candidate.name]
    for kind in report["kinds"]:
        mine = [r for r in local_rows if r.kind == kind["kind"]]
        for row in kind["agreement"]:
            agree = sum(
                _key(r.shadow["fields"], row["field"]) == _key(r.active["fields"], row["field"]) for r in mine
            )
            assert (row["agree"], row["compared"]) == (agree, len(mine))
        active_st = sum(r.active_straight_through for r in mine) / len(mine)
        assert kind["active_straight_through"] == pytest.approx(active_st)
    table = CliRunner().invoke(cli, ["models", "shadow-report", local_ref], env=env)
    assert table.exit_code == 0 and "straight-through by extraction" in table.stdout
    unknown = CliRunner().invoke(cli, ["models", "shadow-report", "llm:never-shadowed"], env=env)
    assert unknown.exit_code == 2 and "no shadow readings" in unknown.stderr


def _key(fields: dict[str, Any], name: str) -> str | None:
    from schemas.values import comparison_key

    value = (fields.get(name) or {}).get("value")
    return comparison_key(value)
