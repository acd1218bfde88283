"""`autoclerk eval DATASET`: extraction quality on documents the model did not train on.

With `--model REF` (repeatable) the given models are scored as they are, never trained
(`autoclerk.model_eval.compare_models`); without, the local extractor is trained and
scored on disjoint documents (the declared split, or `--cv K`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from autoclerk.cli.eval_tables import report_table
from feedback.evaluation import write_report

console = Console()
errors = Console(stderr=True)


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
        console.print(report_table(r, title=f"{r.kind}: {r.protocol}"))
        if report:
            write_report(r, report / f"{dataset.stem}-{r.kind}.json")


def compare_command(
    dataset: Path,
    *,
    models: Sequence[str],
    split: str,
    target_error: float,
    field: Sequence[str] | None,
    report: Path | None,
    as_json: bool,
    resamples: int,
    seed: int,
) -> None:
    """Score the given models without training; side by side when there are several."""
    from agents.errors import ModelRefError
    from autoclerk.cli.eval_tables import all_tables
    from autoclerk.model_eval import compare_models
    from feedback.errors import FeedbackError
    from infra.settings import Settings

    if split not in ("all", "test", "train"):
        errors.print(f"[red]--split must be all, test or train, not {split!r}")
        raise typer.Exit(2)
    try:
        result = compare_models(
            settings=Settings(),
            dataset=dataset,
            refs=list(models),
            target_error=target_error,
            split=split,  # type: ignore[arg-type]
            fields=field,
            resamples=resamples,
            seed=seed,
        )
    except (ModelRefError, FeedbackError) as exc:
        errors.print(f"[red]autoclerk eval: {exc}")
        raise typer.Exit(2) from None
    if report:
        report.mkdir(parents=True, exist_ok=True)
        (report / f"{dataset.stem}-comparison.json").write_text(result.model_dump_json(indent=2))
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    out = Console()  # built here, not at import: it reads the terminal's width (COLUMNS) now
    for table in all_tables(result):
        out.print(table)


def eval_(
    dataset: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="labelled JSONL")],
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="score this model as it is, no training: extractor@champion, extractor/VERSION or "
            "llm:MODEL[@BASE_URL]; repeat for a side-by-side comparison with the first"
        ),
    ] = None,
    cv: Annotated[
        int | None, typer.Option(help="K-fold cross-validation instead of the declared split")
    ] = None,
    split: Annotated[str, typer.Option(help="with --model: all, test or train (declared split)")] = "all",
    target_error: Annotated[float, typer.Option(help="document error allowed straight through")] = 0.01,
    field: Annotated[list[str] | None, typer.Option(help="score only these fields")] = None,
    report: Annotated[Path | None, typer.Option(help="write JSON reports to this folder")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="with --model: the report as JSON on stdout, nothing else")
    ] = False,
    resamples: Annotated[int, typer.Option(min=100, help="paired-bootstrap resamples")] = 2000,
    seed: int = 0,
) -> None:
    """Extraction quality (per-field accuracy, F1, ECE, straight-through) on held-out documents,
    of given models side by side (--model) or of a model trained here."""
    if model:
        if cv is not None:
            errors.print("[red]--cv trains a model; --model scores given ones: choose one")
            raise typer.Exit(2)
        compare_command(
            dataset,
            models=model,
            split=split,
            target_error=target_error,
            field=field,
            report=report,
            as_json=as_json,
            resamples=resamples,
            seed=seed,
        )
        return
    if as_json:
        errors.print("[red]--json needs --model (the training evaluation writes files with --report)")
        raise typer.Exit(2)
    eval_command(dataset, cv=cv, target_error=target_error, field=field, report=report, seed=seed)
