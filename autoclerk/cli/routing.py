"""`autoclerk routing fit`: routing thresholds fitted to a target error on held-out data.

Parse and print: the fitting is `feedback.routing_cv.fit_routing_cv` (`--cv K`, the
default: cross-fitted out-of-fold predictions over every labelled document) and
`feedback.routing_holdout.fit_routing` (`--cv 0`: the declared split).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agents.model_store import oof_dir, thresholds_path
from feedback.corpus import all_documents
from feedback.routing_cv import fit_routing_cv
from feedback.routing_fit import NEVER_AUTO, write_json_atomic
from feedback.routing_holdout import UnverifiedModelError, fit_routing
from infra.settings import Settings

routing_app = typer.Typer(no_args_is_help=True, help="Routing thresholds.")
console = Console()


def _threshold_text(t: float) -> str:
    return "never" if t >= NEVER_AUTO else f"{t:.3f}"


def render(data: dict[str, Any]) -> list[Table]:
    report = data["report"]
    fields = Table(
        title=f"fitted thresholds ({report['model_version']}, target error "
        f"{report['fit']['target_error']} per {report['fit'].get('budget', 'field')}, "
        f"{report['fit']['confidence']:.0%} bound)",
        caption=report["protocol"],
    )
    columns = ("candidates", "support at threshold", "errors", "error bound", "note")
    for col in ("kind", "field", "threshold", *columns):
        fields.add_column(col)
    for f in report["fit"]["fields"]:
        bound = "" if f["error_bound"] is None else f"{f['error_bound']:.4f}"
        fields.add_row(
            f["kind"],
            f["field"],
            _threshold_text(f["threshold"]),
            str(f["candidates"]),
            str(f["support"]),
            str(f["errors"]),
            bound,
            f["fallback"] or "",
        )
    pooled = " (pooled: each half judged by the other half's thresholds)" if "halves" in report else ""
    held = Table(title=f"held-out documents, all thresholds together, extraction only{pooled}")
    for col in ("kind", "documents", "straight through", "STP rate", "errors", "error rate", "error bound"):
        held.add_column(col)
    for k in report["heldout"]["kinds"]:
        bound = "" if k["error_bound"] is None else f"{k['error_bound']:.4f}"
        held.add_row(
            k["kind"],
            str(k["documents"]),
            str(k["straight_through"]),
            f"{k['straight_through_rate']:.1%}",
            str(k["errors"]),
            f"{k['error_rate']:.2%}",
            bound,
        )
    return [fields, held]


@routing_app.command("fit")
def fit_cmd(
    target_error: Annotated[
        float | None, typer.Option(help="largest error rate of what goes straight through [settings: 0.01]")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="default: <models.dir>/routing/thresholds.json")] = None,
    min_support: Annotated[int, typer.Option(help="fewest accepted predictions to fit a threshold")] = 30,
    cv: Annotated[
        int, typer.Option(min=0, help="K-fold cross-fitting over all labelled documents; 0: declared split")
    ] = 5,
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="more labelled JSONL (repeatable; with --cv)")
    ] = None,
    shipped: Annotated[bool, typer.Option(help="include the shipped labelled documents (with --cv)")] = True,
    group_by: Annotated[
        str, typer.Option(help="fold groups: document (identical documents) or vendor (with --cv)")
    ] = "document",
    seed: Annotated[int, typer.Option(help="fold shuffle and training seed (with --cv)")] = 0,
    reuse: Annotated[
        bool, typer.Option(help="reuse out-of-fold predictions kept in <models.dir>/routing/oof")
    ] = True,
    budget: Annotated[
        str,
        typer.Option(
            help="field: each field meets the target; document: the target is split over a kind's "
            "mandatory fields, so a straight-through document is wrong at most at the target (with --cv)"
        ),
    ] = "field",
) -> None:
    """Fit per-field confidence thresholds on held-out predictions and write them."""
    from feedback.errors import FeedbackError

    s = Settings()
    target = s.routing.target_error if target_error is None else target_error
    if not 0 < target < 1:
        raise typer.BadParameter("target error must be between 0 and 1")
    if budget not in ("field", "document"):
        raise typer.BadParameter("--budget is field or document")
    if cv == 1:
        raise typer.BadParameter("--cv needs at least 2 folds (or 0 for the declared split)")
    if not cv and (data or not shipped):
        raise typer.BadParameter("--data and --no-shipped need cross-fitting (--cv 2 or more)")
    started = time.perf_counter()
    try:
        if cv:
            docs = all_documents(data_dir=s.data_dir, extra=data or [], shipped=shipped, log=console.print)
            result = fit_routing_cv(
                documents=docs,
                folds=cv,
                target_error=target,
                max_risk=s.routing.max_risk,
                grouping=group_by,
                seed=seed,
                min_support=min_support,
                cache_dir=oof_dir(s.models.dir),
                reuse=reuse,
                budget="document" if budget == "document" else "field",
                log=console.print,
            )
        else:
            result = fit_routing(
                models_dir=s.models.dir,
                data_dir=s.data_dir,
                target_error=target,
                max_risk=s.routing.max_risk,
                min_support=min_support,
                log=console.print,
            )
    except (UnverifiedModelError, FeedbackError) as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from exc
    path = out or thresholds_path(s.models.dir)
    write_json_atomic(result, path)
    for table in render(result):
        console.print(table)
    console.print(f"wrote {path} (version {result['version']}) in {time.perf_counter() - started:.0f} s")
    if s.llm.enabled:
        console.print("[yellow]an LLM extractor is configured: these thresholds are the local model's")
