"""The pipeline's processes: `run`, `worker`, `broker` and `publish`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.settings import Settings

console = Console()


def run(
    limit: Annotated[int | None, typer.Option(help="publish only the first N sample documents")] = None,
    fresh: Annotated[bool, typer.Option(help="start from an empty SQLite database")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for all outcomes")] = 900.0,
    serve: Annotated[
        bool | None, typer.Option(help="then serve the review UI until Ctrl-C (default: on a terminal)")
    ] = None,
    workers: Annotated[int, typer.Option(min=0, max=16, help="worker processes; 0: one per core")] = 0,
) -> None:
    """Main job: embedded broker + worker, publish the shipped sample, print the summary."""
    from autoclerk.demo import demo_run

    settings = Settings()
    serve = sys.stdout.isatty() if serve is None else serve
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            demo_run(
                settings=settings,
                limit=limit,
                fresh=fresh,
                console=console,
                timeout_s=timeout,
                serve=serve,
                n_workers=workers or min(os.cpu_count() or 1, settings.kafka.partitions),
            )
        )


def worker() -> None:
    """Consume documents and review completions until SIGTERM (needs a broker)."""
    from autoclerk.worker import configure_logging, run_worker_process
    from feedback.models import ensure_models

    settings = Settings()
    if settings.kafka.bootstrap is None:
        console.print("[red]no broker: set AUTOCLERK_KAFKA__BOOTSTRAP (or start one: autoclerk broker)")
        raise typer.Exit(2)
    configure_logging()
    ensure_models(
        models_dir=settings.models.dir, data_dir=settings.data_dir, log=logging.getLogger("autoclerk").info
    )
    raise typer.Exit(run_worker_process(settings))


def broker(
    port: Annotated[int | None, typer.Option(help="port on 127.0.0.1; default: a free one")] = None,
) -> None:
    """Run the embedded tansu broker in the foreground, with our topics created."""
    from autoclerk.worker import serve_broker

    serve_broker(Settings(), port=port, console=console)


def publish(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    kind: Annotated[str, typer.Option(help="document kind for PDFs")] = "invoice",
) -> None:
    """Publish documents from JSON, JSONL or PDF files to documents.received."""
    from autoclerk.publish import events_from_files, publish_events
    from schemas.messages import Topics

    settings = Settings()
    if settings.kafka.bootstrap is None:
        console.print("[red]no broker: set AUTOCLERK_KAFKA__BOOTSTRAP")
        raise typer.Exit(2)
    if kind not in ("invoice", "claim"):
        raise typer.BadParameter("kind must be invoice or claim")
    topic = Topics.with_prefix(settings.kafka.topic_prefix).received
    events = list(events_from_files(files, kind=kind))  # type: ignore[arg-type]
    sent = asyncio.run(publish_events(bootstrap=settings.kafka.bootstrap, topic=topic, events=events))
    console.print(f"published {sent} document(s) to {topic}")
