"""`autoclerk replay` as an operator runs it: the trained models, an SQLite database;
refusals exit 2 with the reason and write nothing; a shadow run writes its report."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from agents.routing import RoutingPolicy
from autoclerk.bootstrap import Adapters, build_service, open_database
from autoclerk.cli import app as cli
from infra.db.engine import make_engine
from infra.db.tables import DecisionRow, OutboxRow, ReplayRow
from infra.pdf import parse_pdf
from schemas.events import DocumentReceived, Envelope
from schemas.messages import MessageMeta, Topics
from tests.fakes import FakeExtractor, FakeRules, FakeTriage

TEXT = "vendor_name: ACME\ninvoice_number: {n}\nissue_date: 2024-01-02\ntotal: {total}"


async def _ingest(url: str, totals: list[str]) -> None:
    adapters = Adapters(
        triage=FakeTriage(),
        extractor=FakeExtractor(),
        rules=FakeRules(),
        parse_pdf=lambda b: parse_pdf(data=b),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
    )
    topics = Topics.with_prefix("cli")
    async with open_database(url) as d:
        service = build_service(store=d.store, checkpointer=d.checkpointer, adapters=adapters, topics=topics)
        for i, total in enumerate(totals):
            payload = DocumentReceived(
                document_id=uuid.uuid4().hex[:10], kind="invoice", text=TEXT.format(n=i, total=total)
            )
            raw = (
                Envelope[DocumentReceived](type="document.received", payload=payload)
                .model_dump_json()
                .encode()
            )
            await service.on_received(raw=raw, meta=MessageMeta(topic=topics.received, partition=0, offset=i))


def _count(url: str, table: type) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def test_replay_cli_refuses_bad_input_and_writes_a_shadow_report(
    trained_models: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_ingest(url, ["10.00", "2000.00"]))  # the CLI runs its own event loop
    outbox = _count(url, OutboxRow)
    env = {
        "AUTOCLERK_MODELS__DIR": str(trained_models),
        "AUTOCLERK_DB__URL": url,
        "AUTOCLERK_KAFKA__BOOTSTRAP": None,  # type: ignore[dict-item]
    }
    runner = CliRunner()

    def run(*args: str, **extra: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, ["replay", *args], env={**env, **extra}, terminal_width=200)

    refusals = [
        (run("live", "--kind", "invoice"), "AUTOCLERK_KAFKA__BOOTSTRAP"),
        (
            run("live", "--kind", "invoice", AUTOCLERK_KAFKA__BOOTSTRAP="127.0.0.1:9"),
            "cannot reach the broker",
        ),
        (run("shadow"), "say which documents"),
        (run("shadow", "--kind", "claim"), "no document matched"),
        (
            run("shadow", "--topic", "cli.documents.received", "--partition", "0", "--from", "5"),
            "has offsets 0..1",
        ),
        (run("shadow", "--kind", "invoice", "--rules", str(tmp_path / "none")), "not a directory"),
        (
            run("shadow", "--kind", "invoice", "--extractor", "no-such-version"),
            "no such directory or version",
        ),
        (run("report", "nope"), "no shadow replay"),
    ]
    for result, why in refusals:
        assert result.exit_code == 2, result.output
        assert why in result.output.replace("\n", ""), result.output
    assert _count(url, ReplayRow) == 0 and _count(url, OutboxRow) == outbox

    out = tmp_path / "report.json"
    done = run("shadow", "--kind", "invoice", "--id", "cli-shadow", "--format", "json", "--out", str(out))
    assert done.exit_code == 0, done.output
    report = json.loads(out.read_text())
    assert report["replay_id"] == "cli-shadow" and report["documents"] == 2 and report["failed"] == 0
    assert report["candidate"]["extractor"] != FakeExtractor.version  # the trained one ran
    html = run("report", "cli-shadow", "--format", "html", "--out", str(tmp_path / "r.html"))
    assert html.exit_code == 0 and "<h1>Shadow replay cli-shadow</h1>" in (tmp_path / "r.html").read_text()
    assert _count(url, OutboxRow) == outbox and _count(url, DecisionRow) == 2  # nothing decided, nothing sent
