"""Shared fixtures: per-test databases (SQLite file, PostgreSQL schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from threadpoolctl import threadpool_limits

# See autoclerk.cli._main: OpenMP pools oversubscribe a 2-core machine badly.
threadpool_limits(limits=1, user_api="openmp")


def pytest_configure(config: pytest.Config) -> None:
    # Rich lays CLI tables out at the terminal's width: 80 columns in an xdist worker,
    # wider under a terminal. Tests read whole cells and lines, so fix one wide width.
    os.environ["COLUMNS"] = "200"


PG_URL = os.environ.get("AUTOCLERK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure means: no server to test against
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_available()


@pytest.fixture
def pg_schema(pg_reason: str | None) -> Iterator[tuple[str, str]]:
    """(url, schema): a fresh schema per test, dropped afterwards."""
    if pg_reason:
        if os.environ.get("AUTOCLERK_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here (AUTOCLERK_REQUIRE_POSTGRES=1): {pg_reason}")
        pytest.skip(pg_reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    eng = create_engine(PG_URL)
    with eng.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield PG_URL, schema
    finally:
        with eng.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        eng.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'autoclerk.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """Both databases, for tests of the store."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url"), None
    url, schema = request.getfixturevalue("pg_schema")
    return url, schema


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Extractor and triage trained once per session on a small shipped subset."""
    from tests.support import train_small_models

    path = tmp_path_factory.mktemp("models")
    train_small_models(path)
    return path
