"""`autoclerk deadletter list|show|retry|discard`: dead letters without SQL.

`retry` re-publishes the original bytes to the topic they came from, or a fixed
payload (`--edit` opens the decoded payload in $EDITOR; `--from-file` reads it, for
scripts) that must first pass the worker's own checks; nothing is sent otherwise. A
row already retried or discarded needs `--force`. `discard` needs `--reason` and keeps
the row. Exit codes: 0 done, 1 refused (unknown id, invalid payload, already done),
2 no broker configured.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from pydantic import ValidationError
from rich.console import Console

from infra.settings import Settings

deadletter_app = typer.Typer(no_args_is_help=True, help="Dead letters: list, show, retry, discard.")
console = Console(stderr=True)
T = TypeVar("T")


def _settings() -> Settings:
    from autoclerk.accounts import prepare_database

    settings = Settings()
    prepare_database(settings.db.url)
    return settings


def _run(work: Coroutine[Any, Any, T]) -> T:
    """One operation; a refusal exits 1 with the reason (the worker's, for a payload)."""
    from review.errors import RefusedEvent, ReviewError

    try:
        return asyncio.run(work)
    except RefusedEvent as exc:
        console.print(f"[red]refused, nothing published: {exc.error_type}: {exc.reason}")
        raise typer.Exit(1) from exc
    except ReviewError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc


@deadletter_app.command("list")
def list_cmd(
    reason: Annotated[str | None, typer.Option(help="part of the reason, any case")] = None,
    error_type: Annotated[str | None, typer.Option(help="e.g. UndecodableEvent, EventTooLarge")] = None,
    topic: Annotated[str | None, typer.Option(help="the topic the message came from")] = None,
    status: Annotated[str | None, typer.Option(help="open, retried or discarded")] = None,
    since: Annotated[datetime | None, typer.Option(help="created at or after (ISO time)")] = None,
    until: Annotated[datetime | None, typer.Option(help="created before (ISO time)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Dead letters, newest first: id, time, source, error type, status, reason."""
    from autoclerk.deadletters import find
    from infra.deadletters import DeadLetterFilter

    try:
        where = DeadLetterFilter(
            reason=reason,
            error_type=error_type,
            topic=topic,
            status=status,
            since=since,
            until=until,
            limit=limit,
        )
    except ValidationError as exc:
        raise typer.BadParameter(str(exc.errors()[0]["msg"])) from exc
    for r in _run(find(settings=_settings(), where=where)):
        if as_json:
            print(r.model_dump_json())
        else:
            print(
                f"{r.id}\t{r.created_at:%Y-%m-%d %H:%M:%S}\t{r.topic}[{r.partition}]@{r.offset}\t"
                f"{r.error_type}\t{r.status}\t{r.reason[:120]}"
            )


@deadletter_app.command("show")
def show_cmd(
    dead_letter_id: Annotated[int, typer.Argument(help="the id `list` shows")],
    payload: Annotated[bool, typer.Option("--payload", help="print only the decoded payload")] = False,
) -> None:
    """One dead letter: reason, error, history and its payload, decoded."""
    from autoclerk.deadletters import show
    from review.deadletters import decoded

    row = _run(show(settings=_settings(), dead_letter_id=dead_letter_id))
    if payload:
        print(decoded(row.original))
        return
    info = row.model_dump(mode="json")
    print(json.dumps(info, indent=2))
    print(decoded(row.original))


@deadletter_app.command("retry")
def retry_cmd(
    dead_letter_id: Annotated[int, typer.Argument(help="the id `list` shows")],
    edit: Annotated[bool, typer.Option("--edit", help="fix the payload in $EDITOR first")] = False,
    from_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="send this fixed payload instead")
    ] = None,
    force: Annotated[bool, typer.Option(help="retry a row already retried or discarded")] = False,
    reason: Annotated[str | None, typer.Option(help="why, for the record")] = None,
) -> None:
    """Re-publish a dead letter (or a fixed payload) to the topic it came from."""
    from autoclerk.deadletters import retry, show
    from review.deadletters import decoded

    settings = _settings()
    if settings.kafka.bootstrap is None:
        console.print("[red]no broker: set AUTOCLERK_KAFKA__BOOTSTRAP")
        raise typer.Exit(2)
    if edit and from_file:
        raise typer.BadParameter("--edit or --from-file, not both")
    fixed: bytes | None = from_file.read_bytes() if from_file else None
    if edit:
        row = _run(show(settings=settings, dead_letter_id=dead_letter_id))
        text = click.edit(decoded(row.original), extension=".json")
        if text is None:
            console.print("[yellow]not saved: nothing published")
            raise typer.Exit(1)
        fixed = text.encode()
    done = _run(
        retry(
            settings=settings,
            bootstrap=settings.kafka.bootstrap,
            dead_letter_id=dead_letter_id,
            payload=fixed,
            force=force,
            reason=reason,
        )
    )
    what = "fixed payload" if done.edited else "original"
    console.print(
        f"dead letter {done.dead_letter_id}: {what} published to {done.topic}[{done.partition}]@{done.offset}"
        f" as event {done.event_id}"
    )


@deadletter_app.command("discard")
def discard_cmd(
    dead_letter_id: Annotated[int, typer.Argument(help="the id `list` shows")],
    reason: Annotated[str, typer.Option(help="why it is given up (kept with the row)")],
) -> None:
    """Mark a dead letter discarded; the row and its bytes are kept."""
    from autoclerk.deadletters import discard

    _run(discard(settings=_settings(), dead_letter_id=dead_letter_id, reason=reason))
    console.print(f"dead letter {dead_letter_id} discarded")
