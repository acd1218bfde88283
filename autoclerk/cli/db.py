"""`autoclerk db migrate`: the one-shot a deployment runs before its workers start."""

from __future__ import annotations

import asyncio
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
    """Bring the database to the current schema (Alembic) and create the workflow
    checkpointer's tables; safe to run again."""
    from autoclerk.bootstrap import open_database

    async def prepare() -> None:
        # Opening the database migrates it and sets up LangGraph's checkpoint tables.
        # Done here once: workers starting together on a fresh PostgreSQL database
        # otherwise race in the checkpointer's own migrations (a deadlock, seen in
        # bench/scale_out.py; the losing worker exits 1 and is restarted).
        async with open_database(settings.db.url):
            pass

    settings = Settings()
    try:
        asyncio.run(prepare())
    except Exception as exc:  # the deployment's job log is where an operator reads this
        console.print(f"[red]migration failed: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    console.print("database at the current schema")
    if models:
        from feedback.models import ensure_models

        logging.basicConfig(level=logging.INFO)
        found = ensure_models(models_dir=settings.models.dir, data_dir=settings.data_dir, log=console.print)
        console.print(f"models ready: {', '.join(sorted(found))}")
