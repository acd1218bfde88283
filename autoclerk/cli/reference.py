"""`autoclerk reference load`: master data (policies, vendors, purchase orders) for the rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.settings import Settings

reference_app = typer.Typer(no_args_is_help=True, help="Reference (master) data the rules read.")
console = Console()


@reference_app.command("load")
def reference_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    table: Annotated[str, typer.Option(help="policies, vendors or purchase_orders")],
) -> None:
    """Upsert reference rows from a CSV file."""
    from autoclerk.reference import load_reference
    from infra.db.engine import make_engine, migrate

    s = Settings()
    migrate(s.db.url)
    n = load_reference(engine=make_engine(s.db.url), path=path, table=table)
    console.print(f"{table}: {n} rows loaded")
