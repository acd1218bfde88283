"""`autoclerk models shadow-report REF`: how a shadow did beside the active model."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from feedback.shadow_report import KindShadowReport, ShadowReport


def _kind_table(k: KindShadowReport) -> Table:
    t = Table(title=f"{k.kind}: {k.documents} shadowed, {k.failures} shadow failures, {k.labelled} reviewed")
    for col in ("field", "agreement", "reviewed", "shadow accuracy", "active accuracy"):
        t.add_column(col, justify="left" if col == "field" else "right")
    accuracy = {a.field: a for a in k.accuracy}
    for row in k.agreement:
        a = accuracy.get(row.field)
        t.add_row(
            row.field,
            f"{row.rate:.3f} ({row.agree}/{row.compared})",
            str(a.labelled) if a else "0",
            f"{a.shadow_accuracy:.3f}" if a else "-",
            f"{a.active_accuracy:.3f}" if a else "-",
        )
    t.caption = (
        f"straight-through by extraction: shadow {k.shadow_straight_through:.1%}, "
        f"active {k.active_straight_through:.1%} (routing thresholds in force when read)"
    )
    return t


def print_report(report: ShadowReport, console: Console) -> None:
    cost = f"${report.cost_usd:.4f}" if report.cost_usd is not None else "no cost recorded"
    console.print(
        f"shadow {report.ref} ({', '.join(report.versions)}) beside {', '.join(report.active_versions)}: "
        f"{report.documents} documents, {report.failures} failures, {cost}, latency p50 "
        f"{report.latency_ms_p50:.0f} ms, p95 {report.latency_ms_p95:.0f} ms"
    )
    for k in report.kinds:
        console.print(_kind_table(k))


def shadow_report_cmd(
    ref: Annotated[
        str, typer.Argument(help="the shadow as configured: extractor/VERSION or llm:MODEL[@URL]")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="the report as JSON on stdout, nothing else")
    ] = False,
) -> None:
    """Agreement with the active model per field, the straight-through rate the shadow would
    have had, and its accuracy on the shadowed documents a reviewer labelled."""
    from agents.errors import RegistryError
    from autoclerk.shadow_report import report_from_store
    from infra.settings import Settings

    try:
        report = asyncio.run(report_from_store(settings=Settings(), ref=ref))
    except RegistryError as exc:
        Console(stderr=True).print(f"[red]autoclerk models shadow-report: {exc}")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    print_report(report, Console())
