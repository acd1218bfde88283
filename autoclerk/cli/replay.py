"""`autoclerk replay live | shadow | report`: run the workflow again over stored documents.

The command works with the configured database and broker directly, as the other
operator commands do (whoever holds the settings is the operator); there is no HTTP
route to authorise. Every refusal exits 2 with the reason before anything is written
or published; Ctrl-C finishes the documents in flight and exits 130 with the command
that resumes.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from infra.settings import Settings

replay_app = typer.Typer(no_args_is_help=True, help="Replay documents: live (supersede) or shadow (diff).")
console = Console()

Since = Annotated[datetime | None, typer.Option(help="received at or after (UTC, ISO date or time)")]
Until = Annotated[datetime | None, typer.Option(help="received before (UTC)")]
Topic = Annotated[str | None, typer.Option(help="ingest offsets: input topic (from the ingest ledger)")]
Partition = Annotated[int | None, typer.Option(help="ingest offsets: partition")]
From = Annotated[int | None, typer.Option("--from", help="first offset (inclusive)")]
To = Annotated[int | None, typer.Option("--to", help="last offset (inclusive)")]
Epoch = Annotated[str | None, typer.Option(help="broker incarnation; default the newest in the ledger")]
Docs = Annotated[list[str] | None, typer.Option("--document", help="a document id (repeatable)")]
Vendor = Annotated[str | None, typer.Option(help="extracted vendor name")]
OutcomeOpt = Annotated[str | None, typer.Option("--outcome", help="approve | reject | review (open task)")]
Kind = Annotated[str | None, typer.Option(help="invoice | claim")]
IdOpt = Annotated[str | None, typer.Option("--id", help="replay id: resumes it if it exists")]
Rate = Annotated[float | None, typer.Option(help="documents a second at most")]
Concurrency = Annotated[int, typer.Option(min=1, max=64, help="documents in flight")]
FormatOpt = Annotated[str, typer.Option("--format", help="table | json | html")]
Out = Annotated[Path | None, typer.Option(help="write the report here instead of the terminal")]


def _selection(**kw: object):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from schemas.replay import ReplaySelection

    for key in ("since", "until"):
        when = kw.get(key)
        if isinstance(when, datetime) and when.tzinfo is None:
            kw[key] = when.replace(tzinfo=UTC)
    kw["document_ids"] = kw.pop("documents") or []
    try:
        return ReplaySelection.model_validate({k: v for k, v in kw.items() if v is not None})
    except ValidationError as exc:
        raise typer.BadParameter(
            str(exc).splitlines()[2] if len(str(exc).splitlines()) > 2 else str(exc)
        ) from exc


def _run(request, *, fmt: str = "table", out: Path | None = None) -> None:  # type: ignore[no-untyped-def]
    from agents.errors import ReplayError
    from autoclerk.adapters import ModelsMissing
    from autoclerk.replay import run_replay

    if fmt not in ("table", "json", "html"):
        raise typer.BadParameter("--format must be table, json or html")
    settings = Settings()
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )
    task = bar.add_task("replay", total=None)

    def started(rid: str, total: int, done: int) -> None:
        bar.update(task, description=f"{request.mode} replay {rid}", total=total, completed=done)

    async def main():  # type: ignore[no-untyped-def]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        with bar:
            return await run_replay(
                settings, request, stop=stop, progress=lambda _: bar.advance(task), started=started
            )

    try:
        outcome = asyncio.run(main())
    except (ReplayError, ModelsMissing) as exc:
        console.print(f"[red]replay refused:[/red] {exc}")
        raise typer.Exit(2) from exc
    counts = ", ".join(f"{n} {k}" for k, n in sorted(outcome.results.items())) or "nothing left to do"
    console.print(
        f"replay {outcome.replay_id}: {counts} (of {outcome.total}; {outcome.done_before} done before)"
    )
    if outcome.report is not None:
        _print_report(outcome.report, fmt, out)
    if not outcome.finished:
        console.print(
            f"[yellow]stopped; resume with: autoclerk replay {request.mode} --id {outcome.replay_id}"
        )
        raise typer.Exit(130)


def _print_report(report, fmt: str, out: Path | None) -> None:  # type: ignore[no-untyped-def]
    from autoclerk.replay_report import as_html, as_json, as_table

    if fmt == "table" and out is None:
        console.print(as_table(report))
        return
    text = as_html(report) if fmt == "html" else as_json(report) if fmt == "json" else None
    if text is None:
        with console.capture() as cap:
            console.print(as_table(report))
        text = cap.get()
    if out is None:
        print(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"report written to {out}")


@replay_app.command("live")
def live(
    since: Since = None,
    until: Until = None,
    topic: Topic = None,
    partition: Partition = None,
    from_offset: From = None,
    to_offset: To = None,
    epoch: Epoch = None,
    document: Docs = None,
    vendor: Vendor = None,
    outcome: OutcomeOpt = None,
    kind: Kind = None,
    include_reviewed: Annotated[
        bool, typer.Option(help="also reviewers' decisions: they go to review again, never overwritten")
    ] = False,
    replay_id: IdOpt = None,
    rate: Rate = None,
    concurrency: Concurrency = 8,
) -> None:
    """Re-run the workflow with the serving models and rules; supersede changed outcomes."""
    from autoclerk.replay import ReplayRequest
    from schemas.replay import ReplayOptions

    sel = _selection(
        since=since, until=until, topic=topic, partition=partition, from_offset=from_offset,
        to_offset=to_offset, epoch=epoch, documents=document, vendor=vendor, outcome=outcome, kind=kind,
    )  # fmt: skip
    options = ReplayOptions(include_reviewed=include_reviewed)
    _run(ReplayRequest("live", sel, options, replay_id=replay_id, rate=rate, concurrency=concurrency))


@replay_app.command("shadow")
def shadow(
    since: Since = None,
    until: Until = None,
    topic: Topic = None,
    partition: Partition = None,
    from_offset: From = None,
    to_offset: To = None,
    epoch: Epoch = None,
    document: Docs = None,
    vendor: Vendor = None,
    outcome: OutcomeOpt = None,
    kind: Kind = None,
    extractor: Annotated[
        str | None, typer.Option(help="candidate: llm:MODEL, an artifact directory or an extractor version")
    ] = None,
    rules: Annotated[str | None, typer.Option(help="candidate: a directory of decision graphs")] = None,
    thresholds: Annotated[str | None, typer.Option(help="candidate: a routing thresholds.json")] = None,
    replay_id: IdOpt = None,
    rate: Rate = None,
    concurrency: Concurrency = 8,
    fmt: FormatOpt = "table",
    out: Out = None,
) -> None:
    """Re-run with candidate versions; emit and decide nothing; print the diff report."""
    from autoclerk.replay import ReplayRequest
    from schemas.replay import ReplayOptions

    sel = _selection(
        since=since, until=until, topic=topic, partition=partition, from_offset=from_offset,
        to_offset=to_offset, epoch=epoch, documents=document, vendor=vendor, outcome=outcome, kind=kind,
    )  # fmt: skip
    options = ReplayOptions(extractor=extractor, rules=rules, thresholds=thresholds)
    request = ReplayRequest("shadow", sel, options, replay_id=replay_id, rate=rate, concurrency=concurrency)
    _run(request, fmt=fmt, out=out)


@replay_app.command("report")
def report(
    replay_id: Annotated[str, typer.Argument(help="a shadow replay's id")],
    fmt: FormatOpt = "table",
    out: Out = None,
) -> None:
    """The diff report of a shadow replay, from the database (as far as it got)."""
    from autoclerk.replay import stored_report

    found = asyncio.run(stored_report(Settings(), replay_id))
    if found is None:
        console.print(f"[red]no shadow replay {replay_id!r}")
        raise typer.Exit(2)
    if fmt not in ("table", "json", "html"):
        raise typer.BadParameter("--format must be table, json or html")
    _print_report(found, fmt, out)
