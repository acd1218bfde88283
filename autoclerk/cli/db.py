"""`autoclerk db migrate`: the one-shot a deployment runs before its workers start."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from infra.settings import Settings

db_app = typer.Typer(no_args_is_help=True, help="Database schema (and models) before workers start.")
console = Console(stderr=True)


@db_app.command("migrate")
def migrate_cmd(
    models: Annotated[
        bool, typer.Option(help="also train the served models that models.dir lacks (once, not per worker)")
    ] = False,
) -> None:
    """Bring the database to the current schema (Alembic); safe to run again."""
    from infra.db.engine import migrate

    settings = Settings()
    try:
        migrate(settings.db.url)
    except Exception as exc:  # the deployment's job log is where an operator reads this
        console.print(f"[red]migration failed: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    console.print("database at the current schema")
    if models:
        from feedback.models import ensure_models

        logging.basicConfig(level=logging.INFO)
        found = ensure_models(models_dir=settings.models.dir, data_dir=settings.data_dir, log=console.print)
        console.print(f"models ready: {', '.join(sorted(found))}")
