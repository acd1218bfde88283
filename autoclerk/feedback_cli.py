"""`autoclerk feedback export`: reviewers' completed reviews as labelled JSONL.

Thin: parse options, wire the SQL reader to `feedback.export`, print what was written.
The file feeds `autoclerk train extractor --data FILE`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from feedback.export import ExportFormat, ExportSummary
from infra.settings import Settings

feedback_app = typer.Typer(no_args_is_help=True, help="Training data from reviewers' corrections.")
console = Console()


async def export_from_store(
    *, settings: Settings, out: Path, since: datetime | None, fmt: ExportFormat = "labelled"
) -> ExportSummary:
    """Migrate if needed, read completed reviews, write them; returns the summary."""
    from feedback.export import export_reviews
    from infra.db.engine import make_async_engine, migrate
    from infra.feedback_source import SqlReviewedSource

    migrate(settings.db.url)
    engine = make_async_engine(settings.db.url)
    try:
        return await export_reviews(source=SqlReviewedSource(engine=engine), out=out, since=since, fmt=fmt)
    finally:
        await engine.dispose()


@feedback_app.command("export")
def export(
    out: Annotated[Path, typer.Option(dir_okay=False, help="labelled JSONL to write")],
    since: Annotated[
        str | None,
        typer.Option(help="only reviews completed at or after this ISO 8601 time (UTC if no zone)"),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="labelled: our JSONL for `train extractor --data`; openai: chat fine-tuning "
            "examples for the LLM extractor (train split only)",
        ),
    ] = "labelled",
) -> None:
    """Write every human-reviewed document: the model's fields with the corrections applied."""
    if fmt not in ("labelled", "openai"):
        raise typer.BadParameter(f"--format: {fmt!r} is not labelled or openai")
    try:
        after = datetime.fromisoformat(since) if since else None
    except ValueError as exc:
        raise typer.BadParameter(f"--since: {exc}") from exc
    kind: ExportFormat = "openai" if fmt == "openai" else "labelled"
    summary = asyncio.run(export_from_store(settings=Settings(), out=out, since=after, fmt=kind))
    console.print(
        f"wrote {summary.documents} reviewed document(s) to {out}: splits {summary.splits}, "
        f"{summary.corrected_fields} corrected and {summary.confirmed_fields} confirmed field values, "
        f"by reviewer {summary.by_reviewer}"
    )
    if fmt == "openai":
        console.print(f"fine-tuning examples written: {summary.written} (test-split documents kept out)")
        for doc_id, why in summary.skipped[:10]:
            console.print(f"  skipped {doc_id}: {why}")
