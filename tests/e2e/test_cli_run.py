"""`autoclerk run` end to end: embedded broker, a worker process, the shipped sample."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from autoclerk.samples import sample_documents
from infra.db.engine import make_engine
from infra.db.tables import DeadLetterRow, DecisionRow, ReviewTaskRow
from tests.support import DATA, ROOT

pytestmark = pytest.mark.e2e


def test_run_gives_every_document_exactly_one_outcome(tmp_path: Path, trained_models: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'run.db'}"
    env = {
        **os.environ,
        "AUTOCLERK_DB__URL": db_url,
        "AUTOCLERK_MODELS__DIR": str(trained_models),
        "COLUMNS": "120",
    }
    env.pop("AUTOCLERK_KAFKA__BOOTSTRAP", None)
    proc = subprocess.run(
        [sys.executable, "-m", "autoclerk", "run", "--limit", "40", "--timeout", "300"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "published 40 documents" in out
    for row in (
        "documents processed",
        "approved straight through",
        "sent to review",
        "dead-lettered",
        "throughput",
        "latency p99",
        "processing p99",
    ):
        assert row in out
    expected = {d.document_id for d in sample_documents(data_dir=DATA, limit=40)}
    engine = make_engine(db_url)
    with Session(engine) as s:
        outcomes = Counter(s.execute(select(DecisionRow.document_id)).scalars())
        outcomes.update(s.execute(select(ReviewTaskRow.document_id)).scalars())
        dead = s.execute(select(DeadLetterRow)).scalars().all()
    engine.dispose()
    assert not dead
    assert set(outcomes) == expected
    assert set(outcomes.values()) == {1}
    assert (tmp_path / "var" / "logs" / "worker-0.log").exists()
    assert tmp_path != ROOT  # ran from elsewhere: nothing depends on the working directory
