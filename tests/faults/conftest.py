"""Fault tests start real components (broker, worker processes, PostgreSQL clusters)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

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
