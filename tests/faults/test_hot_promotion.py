"""Promote and roll back the extractor under a running worker on the real broker: the
worker switches without a restart, documents published after each switch are decided
by the new version, every decision records the registry version that made it (and it
matches the extractor version in the extraction), and nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from agents.model_store import current
from autoclerk.cli import app as cli
from autoclerk.publish import publish_events
from autoclerk.samples import received_event
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.db.tables import DecisionRow, ExtractionRow, ReviewTaskRow
from infra.kafka import ensure_topics
from schemas.messages import Topics
from tests.faults.ledger import check_ledger
from tests.support import small_corpus, spawn_worker, wait_until, worker_env

BATCH = 8


def _outcomes(db_url: str) -> dict[str, dict[str, str]]:
    """document id → the extractor version that extracted it ('artifact'), and for a
    decided document the registry version its decision records ('ref')."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            done = set(s.execute(select(DecisionRow.document_id)).scalars())
            done |= set(s.execute(select(ReviewTaskRow.document_id)).scalars())
            out = {
                d: {"artifact": v}
                for d, v in s.execute(select(ExtractionRow.document_id, ExtractionRow.model_version))
                if d in done
            }
            for d, refs in s.execute(select(DecisionRow.document_id, DecisionRow.model_refs)):
                # PostgreSQL reads each statement at its own snapshot: a decision committed
                # after the first query is counted on the next poll, not half-counted here
                if d in out:
                    out[d]["ref"] = (refs or {}).get("extractor", "")
            return out
    finally:
        engine.dispose()


def _switches(log: Path) -> int:
    return log.read_text(errors="replace").count("models switched")


def test_promote_and_rollback_under_a_running_worker(
    tmp_path: Path, trained_models: Path, fault_db: str
) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained_models, models, ignore=shutil.ignore_patterns("registry"))
    live = current(models, "extractor")
    assert live is not None
    second = models / "extractor" / "local-second"
    shutil.copytree(live, second)  # a second version, told apart by its recorded version
    meta = json.loads((second / "metadata.json").read_text())
    (second / "metadata.json").write_text(json.dumps({**meta, "version": "local-second"}))
    first_artifact = meta["version"]

    train, test = small_corpus()
    # receipts and claims alternating: receipts mostly go straight through (decisions to
    # check), claims mostly to review (their extraction still says which version ran)
    receipts = [d for d in test + train if d.kind == "invoice"][: 3 * BATCH // 2]
    claims = [d for d in test + train if d.kind == "claim"][: 3 * BATCH // 2]
    docs = [d for pair in zip(receipts, claims, strict=True) for d in pair]
    events = [received_event(d) for d in docs]
    batches = [events[i * BATCH : (i + 1) * BATCH] for i in range(3)]
    prefix = f"hot-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    log = tmp_path / "worker.log"
    migrate(fault_db)
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        env = {
            **worker_env(bootstrap=broker.bootstrap, prefix=prefix, db_url=fault_db, models_dir=models),
            "AUTOCLERK_MODELS__WATCH_INTERVAL_S": "0.5",
            "COLUMNS": "250",
        }
        worker = spawn_worker(env, log)

        def publish_and_wait(batch: list, n_before: int) -> None:  # type: ignore[type-arg]
            asyncio.run(publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=batch))
            wait_until(
                lambda: len(_outcomes(fault_db)) >= n_before + len(batch),
                timeout_s=180,
                what=f"{n_before + len(batch)} outcomes",
                proc=worker,
                log=log,
            )

        def move(*args: str, switches: int) -> None:
            result = CliRunner().invoke(cli, ["models", *args], env=env)
            assert result.exit_code == 0, result.output
            wait_until(
                lambda: _switches(log) >= switches, timeout_s=60, what="the switch", proc=worker, log=log
            )

        try:
            # first batch, and a promotion while its documents are still in flight
            asyncio.run(publish_events(bootstrap=broker.bootstrap, topic=topics.received, events=batches[0]))
            wait_until(
                lambda: len(_outcomes(fault_db)) >= 1,
                timeout_s=180,
                what="a first outcome",
                proc=worker,
                log=log,
            )
            move("use", "extractor", "local-second", switches=1)
            wait_until(
                lambda: len(_outcomes(fault_db)) >= BATCH, timeout_s=180, what="batch 1", proc=worker, log=log
            )
            publish_and_wait(batches[1], BATCH)
            move("rollback", "extractor", switches=2)
            publish_and_wait(batches[2], 2 * BATCH)
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    ledger = check_ledger(db_url=fault_db, published=[e.model_dump_json().encode() for e in events])
    print(ledger.row(f"hot promotion + rollback ({fault_db.split(':')[0]})"))
    ledger.assert_nothing_lost()
    assert ledger.dead_lettered == 0 and ledger.duplicate == 0

    outcomes = _outcomes(fault_db)
    artifact = {"extractor/1": first_artifact, "extractor/2": "local-second"}
    decided = {d: o for d, o in outcomes.items() if "ref" in o}
    assert decided, "no document was decided automatically: nothing to check versions on"
    for doc, o in decided.items():  # the recorded version is the one that extracted
        assert artifact.get(o["ref"]) == o["artifact"], (doc, o)
    # published after the switch was logged: the new version, decided or in review
    assert {outcomes[e.payload.document_id]["artifact"] for e in batches[1]} == {"local-second"}
    assert {outcomes[e.payload.document_id]["artifact"] for e in batches[2]} == {first_artifact}
    assert "Traceback" not in log.read_text(errors="replace")
