"""`autoclerk train extractor | triage | claims-risk`: retrain a model and promote it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.settings import Settings

train_app = typer.Typer(no_args_is_help=True, help="Train models from labelled documents.")
console = Console()


@train_app.command("extractor")
def train_extractor(
    data: Annotated[
        list[Path] | None,
        typer.Option(exists=True, dir_okay=False, help="labelled JSONL to add (e.g. `feedback export`)"),
    ] = None,
    force: Annotated[bool, typer.Option(help="promote even if worse than the current model")] = False,
    tolerance: Annotated[float, typer.Option(help="document accuracy the candidate may lose")] = 0.005,
) -> None:
    """Train the local extractor on the training split (shipped + --data); promote through the gate."""
    from feedback.retrain import retrain_extractor

    s = Settings()
    done = retrain_extractor(
        models_dir=s.models.dir,
        data_dir=s.data_dir,
        extra=data or [],
        force=force,
        tolerance=tolerance,
        log=console.print,
    )
    console.print(f"extractor: {done.artifact}")
    if not done.promoted:
        raise typer.Exit(1)


@train_app.command("triage")
def train_triage_cmd(
    data: Annotated[
        list[Path] | None,
        typer.Option(exists=True, dir_okay=False, help="labelled JSONL to add (e.g. `feedback export`)"),
    ] = None,
    exceptions_cv: Annotated[
        int, typer.Option(help="label exceptions by K-fold out-of-fold extraction (0: exported labels only)")
    ] = 0,
) -> None:
    """Train the triage classifier (kind, and risk where labelled), export it to ONNX, promote it."""
    from feedback.triage_data import retrain_triage

    s = Settings()
    path = retrain_triage(
        models_dir=s.models.dir, data_dir=s.data_dir, extra=data or [], exceptions_cv=exceptions_cv,
        log=console.print,
    )  # fmt: skip
    console.print(f"triage: {path}")
    console.print_json(json.dumps(json.loads((path / "metadata.json").read_text()).get("risk")))


@train_app.command("claims-risk")
def train_claims_risk_cmd(
    csv: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="auto claims with fraud_reported")],
) -> None:
    """Train the auto-claim fraud model (5-fold CV metrics in its metadata) and promote it."""
    from feedback.models import train_claims_risk_model

    path = train_claims_risk_model(csv=csv, models_dir=Settings().models.dir)
    console.print(f"claims risk: {path}")
    console.print_json((path / "metadata.json").read_text())
