"""Helpers shared by integration and e2e tests: small trained models, worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from agents.extract.train import train_local_extractor
from agents.model_store import train_and_promote
from agents.triage.train import train_triage
from feedback.datasets import load_labelled_jsonl, load_sroie, split_documents
from infra.db.engine import make_engine
from infra.db.tables import DeadLetterRow, DecisionRow, IngestLedger, ReviewTaskRow
from infra.process import die_with_parent
from schemas.document import LabelledDocument

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def small_corpus(n_each: int = 50) -> tuple[list[LabelledDocument], list[LabelledDocument]]:
    """(train, test) from the shipped data, small enough to train in seconds."""
    docs = (
        load_sroie(DATA / "sroie" / "train.jsonl")[: 2 * n_each]
        + load_labelled_jsonl(DATA / "samples" / "claims.jsonl")[: 2 * n_each]
    )
    return split_documents(docs)


def train_small_models(models_dir: Path) -> None:
    train, _ = small_corpus()
    train_and_promote(models_dir=models_dir, name="extractor", trainer=train_local_extractor, documents=train)
    train_and_promote(models_dir=models_dir, name="triage", trainer=train_triage, documents=train)


def worker_env(*, bootstrap: str, prefix: str, db_url: str, models_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AUTOCLERK_KAFKA__BOOTSTRAP": bootstrap,
        "AUTOCLERK_KAFKA__TOPIC_PREFIX": prefix,
        "AUTOCLERK_KAFKA__PARTITIONS": "2",
        "AUTOCLERK_DB__URL": db_url,
        "AUTOCLERK_MODELS__DIR": str(models_dir),
    }


def spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "autoclerk", "worker"],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            preexec_fn=die_with_parent(signal.SIGTERM),  # no orphan worker if pytest is killed
        )


def outcome_counts(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:

            def n(table: type, *where: object) -> int:
                return int(s.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]

            return {
                "decisions": n(DecisionRow),
                "tasks": n(ReviewTaskRow),
                "deadletters": n(DeadLetterRow),
                "duplicates": n(IngestLedger, IngestLedger.status == "duplicate"),
            }
    finally:
        engine.dispose()


def wait_until(
    predicate,
    *,
    timeout_s: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log else ""
            raise AssertionError(f"worker exited ({proc.returncode}) while waiting for {what}\n{tail}")
        time.sleep(0.3)
    tail = log.read_text()[-3000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")
