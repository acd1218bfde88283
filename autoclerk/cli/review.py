"""`autoclerk review serve`: the review UI and its JSON API (users: `autoclerk.cli.users`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from infra.settings import SECRET_HELP, Settings

review_app = typer.Typer(no_args_is_help=True, help="The reviewer web UI and HTTP API.")
console = Console(stderr=True)


@review_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="default: review.host (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="default: review.port")] = None,
    lease_minutes: Annotated[float, typer.Option(help="how long a reviewer holds a task")] = 15.0,
) -> None:
    """Serve the review UI and /api (OpenAPI docs at /api/docs)."""
    import uvicorn

    from autoclerk.adapters import routing_policy
    from autoclerk.logs import logging_config
    from infra.db.engine import make_async_engine, migrate
    from review.app import create_app
    from review.publish import KafkaPublisher

    settings = Settings()
    if settings.kafka.bootstrap is None:
        console.print("[red]no broker: set AUTOCLERK_KAFKA__BOOTSTRAP (review.completed must go somewhere)")
        raise typer.Exit(2)
    if settings.review.secret_key is None:
        console.print(
            "[red]no session secret: set AUTOCLERK_REVIEW__SECRET_KEY, the same value for every review "
            f"process; {SECRET_HELP}"
        )
        raise typer.Exit(2)
    migrate(settings.db.url)
    app = create_app(
        settings=settings,
        engine=make_async_engine(settings.db.url),
        publisher=KafkaPublisher(bootstrap=settings.kafka.bootstrap),
        lease_s=lease_minutes * 60,
        routing=routing_policy(settings),
    )
    uvicorn.run(
        app,
        host=host or settings.review.host,
        port=port or settings.review.port,
        log_config=logging_config(settings.log),
    )
