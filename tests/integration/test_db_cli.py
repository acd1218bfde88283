"""`autoclerk db migrate`, the deployment's one-shot: migrates, is safe to run twice,
and a database it cannot reach is a clear message and exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from autoclerk.cli import app


def test_migrate_creates_the_schema_and_runs_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    monkeypatch.setenv("AUTOCLERK_DB__URL", url)
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["db", "migrate"])
        assert result.exit_code == 0, result.output
    engine = create_engine(url)
    assert {"documents", "outbox", "review_tasks", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_an_unreachable_database_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCLERK_DB__URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    result = CliRunner().invoke(app, ["db", "migrate"])
    assert result.exit_code == 1
    assert "migration failed: OperationalError" in result.output
