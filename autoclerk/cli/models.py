"""`autoclerk models`: the trained versions on disk, and which one is CURRENT.

Training never deletes a version, so rolling back is pointing `CURRENT` at an older
folder (`models use`). The version is checked with the test the runtime applies first
when it loads a model (`agents.model_store.unusable_reason`), so a pointer never lands
on an artifact this code cannot serve. Workers read `CURRENT` when they start: restart
them after a switch.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from autoclerk.cli.shadow import shadow_report_cmd
from infra.settings import Settings

models_app = typer.Typer(no_args_is_help=True, help="Trained model versions: list them, roll back.")
console = Console()


@models_app.command("list")
def list_cmd(
    name: Annotated[str | None, typer.Argument(help="extractor, triage or claims_risk")] = None,
) -> None:
    """Versions on disk per model, CURRENT marked."""
    s = Settings()
    from agents.model_store import names, versions

    for n in [name] if name else names(s.models.dir):
        table = Table(title=f"{n} ({s.models.dir / n})")
        for col in ("", "version", "trained", "summary"):
            table.add_column(col)
        for row in versions(s.models.dir, n):
            table.add_row("*" if row.current else "", row.version, row.trained_at, row.summary)
        console.print(table)


@models_app.command("use")
def use_cmd(
    name: Annotated[str, typer.Argument(help="extractor, triage or claims_risk")],
    version: Annotated[str, typer.Argument(help="a folder name from `autoclerk models list`")],
) -> None:
    """Point CURRENT at an existing version (rollback or roll forward); restart workers after."""
    from agents.model_store import current, promote, unusable_reason

    s = Settings()
    path = s.models.dir / name / version
    if not (path / "metadata.json").is_file():
        console.print(f"[red]no version {version!r} of {name} in {s.models.dir / name}")
        raise typer.Exit(2)
    reason = unusable_reason(name, path)
    if reason:
        console.print(f"[red]{name} {version} cannot be served by this code: {reason}")
        raise typer.Exit(2)
    before = current(s.models.dir, name)
    promote(s.models.dir, name, path)
    console.print(f"{name}: CURRENT {before.name if before else 'none'} → {version}; restart the workers")


# the shadow's report lives in its own module; registered here so it reads `models shadow-report`
models_app.command("shadow-report")(shadow_report_cmd)
