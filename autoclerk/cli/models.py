"""`autoclerk models`: the model registry: list, promote, roll back, use, set a status.

Every served model (extractor — local or LLM —, triage, claims_risk) has numbered
versions in the registry (`agents.registry`); the folder layout `<models.dir>/<name>/…`
that training writes is imported on every open. `promote REF` runs the gate (held-out
comparison with the active version, `feedback.registry_gate`) and refuses with both
scores when the candidate is worse; `rollback NAME` returns to the version active before
the current one. A version this code cannot serve is refused before it becomes active.
Running workers switch within `models.watch_interval_s` (no restart). `use NAME VERSION`
activates without the gate (an operator's forced choice, recorded as such); VERSION is
a registry number or a folder name from before the registry.

Refusals print the reason and exit 2. Like `train`, these are operator commands: who
may run them is who holds the database settings.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agents.errors import RegistryError
from infra.settings import Settings

models_app = typer.Typer(no_args_is_help=True, help="The model registry: list, promote, roll back.")
console = Console()

Ref = Annotated[str, typer.Argument(help="extractor/3, extractor@champion, extractor@challenger")]


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]{exc}")
    return typer.Exit(2)


def _short(values: dict[str, object], limit: int = 4) -> str:
    shown = [f"{k}={v}" for k, v in values.items() if v not in (None, "", [], {})][:limit]
    return ", ".join(shown)


@models_app.command("list")
def list_cmd(
    name: Annotated[str | None, typer.Argument(help="extractor, triage or claims_risk")] = None,
) -> None:
    """Every version of every model (or of NAME): status, aliases, lineage, metrics."""
    from autoclerk.registry import registry_session

    with registry_session(Settings()) as reg:
        names = [name] if name else reg.names()
        if name and name not in reg.names():
            raise _fail(RegistryError(f"no model named {name!r} (known: {', '.join(reg.names()) or 'none'})"))
        for n in names:
            table = Table(title=f"{n} (history: {' → '.join(map(str, reg.history(n))) or '-'})")
            for col in ("version", "status", "aliases", "params", "lineage", "metrics", "created"):
                table.add_column(col)
            for v in reg.versions(n):
                table.add_row(
                    v.ref,
                    v.status,
                    ", ".join(v.aliases),
                    _short(v.params),
                    _short(v.lineage),
                    _short(v.metrics),
                    v.created_at.isoformat()[:19],
                )
            console.print(table)


@models_app.command("promote")
def promote_cmd(
    ref: Ref,
    tolerance: Annotated[float, typer.Option(help="how much worse still passes the gate")] = 0.005,
) -> None:
    """Make REF active through the gate; running workers switch within seconds."""
    from autoclerk.registry import registry_session
    from autoclerk.registry_gate import build_gate

    s = Settings()
    with registry_session(s) as reg:
        try:
            version = reg.get(ref)
            move = reg.promote(version.ref, gate=build_gate(s, reg, version.name, tolerance=tolerance))
        except RegistryError as exc:
            raise _fail(exc) from exc
    before = move.previous.ref if move.previous else "none"
    if before == move.current.ref:
        console.print(f"{move.current.ref} is already active")
        return
    if move.gate is not None:
        console.print(f"gate: {move.gate.reason}; candidate {move.gate.candidate}, active {move.gate.active}")
    console.print(f"{move.name}: active {before} → {move.current.ref}")


@models_app.command("rollback")
def rollback_cmd(name: Annotated[str, typer.Argument(help="extractor, triage or claims_risk")]) -> None:
    """Back to the version that was active before the current one."""
    from autoclerk.registry import registry_session

    with registry_session(Settings()) as reg:
        try:
            move = reg.rollback(name)
        except RegistryError as exc:
            raise _fail(exc) from exc
    before = move.previous.ref if move.previous else "none"
    console.print(f"{name}: rolled back {before} → {move.current.ref}")


@models_app.command("use")
def use_cmd(
    name: Annotated[str, typer.Argument(help="extractor, triage or claims_risk")],
    version: Annotated[str, typer.Argument(help="a registry version number, or a trained folder's name")],
) -> None:
    """Activate a version without the gate (still refused if this code cannot serve it)."""
    from autoclerk.registry import registry_session

    with registry_session(Settings()) as reg:
        try:
            found = next((v for v in reg.versions(name) if v.lineage.get("legacy_folder") == version), None)
            if found is None and not version.isdigit():
                raise RegistryError(f"no version {version!r} of {name}: see `autoclerk models list {name}`")
            target = found.ref if found else f"{name}/{version}"
            move = reg.promote(target, by="use")
        except RegistryError as exc:
            raise _fail(exc) from exc
    before = move.previous.ref if move.previous else "none"
    console.print(f"{name}: active {before} → {move.current.ref} (no gate: forced by `models use`)")


@models_app.command("status")
def status_cmd(
    ref: Ref,
    status: Annotated[str, typer.Argument(help="candidate, shadow or retired")],
) -> None:
    """Mark a version candidate, shadow (alias challenger) or retired."""
    from autoclerk.registry import registry_session

    with registry_session(Settings()) as reg:
        try:
            version = reg.set_status(ref, status)
        except RegistryError as exc:
            raise _fail(exc) from exc
    console.print(f"{version.ref}: {version.status} {', '.join(version.aliases)}")
