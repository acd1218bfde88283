"""`autoclerk models`: the trained versions on disk, and which one is CURRENT.

Training never deletes a version, so rolling back is pointing `CURRENT` at an older
folder (`models use`). The version is checked with the same test the runtime applies
before it loads a model, so a pointer never lands on an artifact this code cannot
serve. Workers read `CURRENT` when they start: restart them after a switch.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from infra.settings import Settings

models_app = typer.Typer(no_args_is_help=True, help="Trained model versions: list them, roll back.")
console = Console()


def _summary(meta: dict[str, Any]) -> str:
    """The one or two figures that tell versions apart, from whatever the trainer recorded."""
    parts = []
    docs = meta.get("documents")
    if isinstance(docs, dict):
        parts.append("docs " + ", ".join(f"{k} {v}" for k, v in sorted(docs.items())))
    elif docs is not None:
        parts.append(f"docs {docs}")
    cv = meta.get("cv_metrics") or {}
    if "accuracy" in cv:
        parts.append(f"kind acc {cv['accuracy']}")
    if "roc_auc" in cv:
        parts.append(f"ROC-AUC {cv['roc_auc']}")
    risk = meta.get("risk") or {}
    if risk.get("cv_roc_auc") is not None:
        parts.append(f"risk AUC {risk['cv_roc_auc']} ({', '.join(risk.get('kinds', []))})")
    return "; ".join(parts)


def versions(models_dir: Path, name: str) -> list[dict[str, Any]]:
    """Every version folder of a model, oldest first, with its metadata summary."""
    from autoclerk.models import current

    folder, live = models_dir / name, current(models_dir, name)
    rows = []
    for path in (p for p in folder.glob("*") if (p / "metadata.json").is_file()):
        meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
        created = meta.get("trained_at") or datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
        rows.append({"version": path.name, "current": path == live, "trained_at": created[:19],
                     "summary": _summary(meta)})  # fmt: skip
    return sorted(rows, key=lambda r: r["trained_at"])


@models_app.command("list")
def list_cmd(
    name: Annotated[str | None, typer.Argument(help="extractor, triage or claims_risk")] = None,
) -> None:
    """Versions on disk per model, CURRENT marked."""
    s = Settings()
    names = [name] if name else sorted(p.name for p in s.models.dir.glob("*") if (p / "CURRENT").is_file())
    for n in names:
        table = Table(title=f"{n} ({s.models.dir / n})")
        for col in ("", "version", "trained", "summary"):
            table.add_column(col)
        for row in versions(s.models.dir, n):
            table.add_row("*" if row["current"] else "", row["version"], row["trained_at"], row["summary"])
        console.print(table)


@models_app.command("use")
def use_cmd(
    name: Annotated[str, typer.Argument(help="extractor, triage or claims_risk")],
    version: Annotated[str, typer.Argument(help="a folder name from `autoclerk models list`")],
) -> None:
    """Point CURRENT at an existing version (rollback or roll forward); restart workers after."""
    from autoclerk.models import current, promote
    from autoclerk.runtime import unusable_reason

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
