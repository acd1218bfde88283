"""`autoclerk feedback export`: reviewers' completed reviews as labelled JSONL.

Thin: parse options, call `autoclerk.export.export_from_store`, print what was written.
The file feeds `autoclerk train extractor --data FILE`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from feedback.export import ExportFormat
from infra.settings import Settings

feedback_app = typer.Typer(no_args_is_help=True, help="Training data from reviewers' corrections.")
console = Console()


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
    scrub_pii: Annotated[
        bool,
        typer.Option(
            "--scrub-pii",
            help="replace names, phone numbers, e-mails and IBANs by stable placeholders; "
            "the mapping back goes to --pii-map, never into the export",
        ),
    ] = False,
    pii_map: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="where --scrub-pii writes its mapping (default OUT.pii-map.json)"),
    ] = None,
) -> None:
    """Write every human-reviewed document: the model's fields with the corrections applied
    (one per content, the newest review; a reconciled review's final answer), and a
    manifest beside the file (OUT.manifest.json)."""
    if pii_map is not None and not scrub_pii:
        raise typer.BadParameter("--pii-map needs --scrub-pii")
    if pii_map is not None and pii_map.resolve() == out.resolve():
        raise typer.BadParameter("--pii-map must not be the export itself")
    if fmt not in ("labelled", "openai"):
        raise typer.BadParameter(f"--format: {fmt!r} is not labelled or openai")
    try:
        after = datetime.fromisoformat(since) if since else None
    except ValueError as exc:
        raise typer.BadParameter(f"--since: {exc}") from exc
    kind: ExportFormat = "openai" if fmt == "openai" else "labelled"
    from autoclerk.export import export_from_store

    summary = asyncio.run(
        export_from_store(
            settings=Settings(), out=out, since=after, fmt=kind, scrub_pii=scrub_pii, pii_map=pii_map
        )
    )
    console.print(
        f"wrote {summary.documents} reviewed document(s) to {out}: splits {summary.splits}, "
        f"{summary.corrected_fields} corrected and {summary.confirmed_fields} confirmed field values, "
        f"by reviewer {summary.by_reviewer}"
    )
    console.print(
        f"{summary.duplicates} duplicate review(s) of the same content dropped, {summary.reconciled} "
        f"answer(s) reconciled by a lead; manifest {summary.manifest}"
    )
    if summary.pii_map:
        console.print(f"personal data scrubbed; the mapping back is in {summary.pii_map} (keep it private)")
    if fmt == "openai":
        console.print(f"fine-tuning examples written: {summary.written} (test-split documents kept out)")
        for doc_id, why in summary.skipped[:10]:
            console.print(f"  skipped {doc_id}: {why}")
