"""`autoclerk users scopes ...`: which tasks a reviewer sees (review/scopes.py).

Leads and admins see every task. A reviewer sees the tasks any of their scopes match;
with none they see nothing (unless AUTOCLERK_REVIEW__REVIEWERS_SEE_ALL=true). The
same operations are in the API for leads: /api/users/{username}/scopes.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from infra.settings import Settings

scopes_app = typer.Typer(no_args_is_help=True, help="Queue scopes: which tasks a reviewer sees.")
console = Console(stderr=True)


@scopes_app.command("add")
def add(
    username: Annotated[str, typer.Option(help="the reviewer")],
    kind: Annotated[str | None, typer.Option(help="invoice or claim")] = None,
    vendor: Annotated[str | None, typer.Option(help="vendor name (case-insensitive)")] = None,
    claim_type: Annotated[str | None, typer.Option(help="auto, health, property or other")] = None,
    amount_min: Annotated[float | None, typer.Option(help="amount at least this")] = None,
    amount_max: Annotated[float | None, typer.Option(help="amount below this")] = None,
    queue: Annotated[str | None, typer.Option(help="named queue (DocumentReceived.queue)")] = None,
    all_tasks: Annotated[bool, typer.Option("--all", help="every task (no conditions)")] = False,
) -> None:
    """Give a reviewer a scope: tasks meeting all the conditions given."""
    from autoclerk.accounts import add_user_scope, prepare_database
    from review.errors import Invalid
    from review.scope_admin import ScopeIn

    try:
        scope = ScopeIn(
            kind=kind,  # type: ignore[arg-type]  # validated here
            vendor=vendor,
            claim_type=claim_type,  # type: ignore[arg-type]
            amount_min=amount_min,
            amount_max=amount_max,
            queue=queue,
            all=all_tasks,
        )
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "scope"
            console.print(f"[red]{where}: {err['msg']}")
        raise typer.Exit(2) from exc
    settings = Settings()
    prepare_database(settings.db.url)
    try:
        made = asyncio.run(add_user_scope(db_url=settings.db.url, username=username, scope=scope))
    except Invalid as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    print(f"scope {made.id} added for {username}: {_describe(made)}")


@scopes_app.command("list")
def list_(username: Annotated[str | None, typer.Option(help="one user; default everyone")] = None) -> None:
    """List scopes, one a line: id, user, conditions."""
    from autoclerk.accounts import prepare_database, user_scopes

    settings = Settings()
    prepare_database(settings.db.url)
    for scope in asyncio.run(user_scopes(db_url=settings.db.url, username=username)):
        print(f"{scope.id}\t{scope.username}\t{_describe(scope)}")


@scopes_app.command("remove")
def remove(scope_id: Annotated[int, typer.Option("--id", help="the scope's id (see `list`)")]) -> None:
    """Remove one scope."""
    from autoclerk.accounts import prepare_database, remove_user_scope
    from review.errors import NotFound

    settings = Settings()
    prepare_database(settings.db.url)
    try:
        asyncio.run(remove_user_scope(db_url=settings.db.url, scope_id=scope_id))
    except NotFound as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    print(f"scope {scope_id} removed")


def _describe(scope: object) -> str:
    parts = [
        f"{name}={value}"
        for name in ("kind", "vendor", "claim_type", "amount_min", "amount_max", "queue")
        if (value := getattr(scope, name)) is not None
    ]
    return " ".join(parts) or "all tasks"
