"""Fault tests start real components (broker, worker processes, PostgreSQL clusters)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from tests.faults import pgcluster
from tests.faults.pgcluster import PgCluster


@pytest.fixture
def private_pg() -> Iterator[PgCluster]:
    """A PostgreSQL cluster of the test's own, which it may stop and start."""
    reason = pgcluster.unavailable_reason()
    if reason:
        if os.environ.get("AUTOCLERK_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here (AUTOCLERK_REQUIRE_POSTGRES=1): {reason}")
        pytest.skip(reason)
    with pgcluster.private_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgres"])
def fault_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database URL a worker process can use: a SQLite file, or a fresh database on
    the shared PostgreSQL (a database, not a schema: workers take only a URL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'autoclerk.db'}"
        return
    reason = request.getfixturevalue("pg_reason")
    if reason:
        if os.environ.get("AUTOCLERK_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here (AUTOCLERK_REQUIRE_POSTGRES=1): {reason}")
        pytest.skip(reason)
    name = f"fault_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
