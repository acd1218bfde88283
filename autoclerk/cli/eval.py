"""`autoclerk eval DATASET`: extraction quality on documents the model did not train on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from feedback.evaluation import EvalReport, write_report

console = Console()


def _table(report: EvalReport) -> Table:
    t = Table(title=f"{report.kind}: {report.protocol}")
    for col in ("field", "exact match", "precision", "recall", "F1"):
        t.add_column(col, justify="left" if col == "field" else "right")
    for name, m in report.fields.items():
        t.add_row(name, f"{m.accuracy:.3f}", f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}")
    t.caption = (
        f"document accuracy {report.document_accuracy:.3f} · ECE {report.ece:.4f} · "
        f"straight-through {report.straight_through_rate:.1%} at ≤{report.target_error:.0%} error "
        f"(oracle threshold {report.straight_through_threshold})"
    )
    return t


def eval_command(
    dataset: Path,
    *,
    cv: int | None,
    target_error: float,
    field: Sequence[str] | None,
    report: Path | None,
    seed: int,
) -> None:
    """Per-field accuracy and F1, document accuracy, ECE and straight-through rate of the
    local extractor, trained and scored on disjoint documents."""
    from feedback.eval_run import run_eval

    for r in run_eval(path=dataset, folds=cv, target_error=target_error, fields=field, seed=seed):
        console.print(_table(r))
        if report:
            write_report(r, report / f"{dataset.stem}-{r.kind}.json")


def eval_(
    dataset: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="labelled JSONL")],
    cv: Annotated[
        int | None, typer.Option(help="K-fold cross-validation instead of the declared split")
    ] = None,
    target_error: Annotated[float, typer.Option(help="document error allowed straight through")] = 0.01,
    field: Annotated[list[str] | None, typer.Option(help="score only these fields")] = None,
    report: Annotated[Path | None, typer.Option(help="write JSON reports to this folder")] = None,
    seed: int = 0,
) -> None:
    """Extraction quality (per-field accuracy, F1, ECE, straight-through) on held-out documents."""
    eval_command(dataset, cv=cv, target_error=target_error, field=field, report=report, seed=seed)
