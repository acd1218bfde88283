"""Schemathesis against the review API's own OpenAPI: generated (and hostile) inputs to
every operation never get a 500, and every answer is declared, in status and shape
(issue 11, item 7). A real uvicorn on 127.0.0.1 with SQLite; an admin token, so the
operations are reached past authentication. Few examples per operation: two cores."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Ok
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.db.engine import make_async_engine, migrate
from review.app import create_app
from review.auth import create_token
from tests.review_support import RecordingPublisher, add_users, make_settings, seed_tasks, serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / Path('review.db')}"
    seed_tasks(url, None, n=3)
    migrate(url)

    async def setup() -> tuple[str, str]:
        engine = make_async_engine(url)
        async with async_sessionmaker(engine)() as s:
            await add_users(s, {"root": "admin", "feed": "reviewer"})
            token = await create_token(s, username="root", name="fuzz")
            ingest = await create_token(s, username="feed", name="fuzz", scope="ingest")
        await engine.dispose()
        return token, ingest

    token, ingest = asyncio.run(setup())
    app = create_app(
        settings=make_settings("fuzz"), engine=make_async_engine(url), publisher=RecordingPublisher()
    )
    with serve(app) as base:
        yield base, token, ingest


def test_no_input_gets_a_500_or_an_undeclared_answer(served: tuple[str, str, str]) -> None:
    # Each operation in turn (schemathesis' own pytest plugin does not load under this pytest).
    base, token, _ = served
    spec = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    results = list(spec.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results  # every operation's schema loads
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"},
                checks=[
                    checks.not_a_server_error,
                    checks.status_code_conformance,
                    checks.content_type_conformance,
                    checks.response_schema_conformance,
                ],
            )

        call()


def test_ingest_takes_no_input_to_a_500(served: tuple[str, str, str]) -> None:
    """POST /api/documents with an ingest token (the admin's review token above is refused
    before the body is read), so generated bodies reach the decoder and the checks."""
    base, _, ingest = served
    spec = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    operation = spec["/api/documents"]["POST"]

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {ingest}"},
            checks=[
                checks.not_a_server_error,
                checks.status_code_conformance,
                checks.content_type_conformance,
            ],
        )

    call()
