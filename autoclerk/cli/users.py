"""`autoclerk users ...`: review UI users, API tokens and browser sessions.

Passwords are never defaults and never arguments (they would land in shell history
and `ps`): they come from a prompt, from stdin (`--password-stdin`), or from the
environment variable AUTOCLERK_ADMIN_PASSWORD for scripts. `disable` revokes the
user's sessions and tokens too; `set-password` ends their sessions.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from autoclerk.cli.scopes import scopes_app
from infra.settings import Settings

users_app = typer.Typer(no_args_is_help=True, help="Review UI users, API tokens and sessions.")
tokens_app = typer.Typer(no_args_is_help=True, help="API tokens: list, revoke.")
sessions_app = typer.Typer(no_args_is_help=True, help="Browser sessions: list, revoke.")
users_app.add_typer(tokens_app, name="tokens")
users_app.add_typer(sessions_app, name="sessions")
users_app.add_typer(scopes_app, name="scopes")
console = Console(stderr=True)
PASSWORD_ENV = "AUTOCLERK_ADMIN_PASSWORD"
T = TypeVar("T")


def _read_password(*, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        console.print(f"[red]no terminal to prompt on: use --password-stdin or set {PASSWORD_ENV}")
        raise typer.Exit(2)
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _create_user(*, username: str, role: str, password_stdin: bool) -> None:
    from autoclerk.accounts import add_user, prepare_database
    from review.errors import Invalid

    settings = Settings()
    prepare_database(settings.db.url)
    password = _read_password(from_stdin=password_stdin)
    try:
        asyncio.run(add_user(db_url=settings.db.url, username=username, password=password, role=role))
    except Invalid as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    console.print(f"user {username} ({role}) created")


@users_app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="login name")],
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
) -> None:
    """Create an admin; the password is prompted for (or read from stdin / the environment)."""
    _create_user(username=username, role="admin", password_stdin=password_stdin)


@users_app.command("create")
def create(
    username: Annotated[str, typer.Option(help="login name")],
    role: Annotated[str, typer.Option(help="reviewer, lead or admin")] = "reviewer",
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
) -> None:
    """Create a reviewer or lead."""
    _create_user(username=username, role=role, password_stdin=password_stdin)


@users_app.command("create-token")
def create_token_cmd(
    username: Annotated[str, typer.Option(help="the user the machine acts as")],
    name: Annotated[str, typer.Option(help="what the token is for")] = "api",
    days: Annotated[int | None, typer.Option(help="lifetime; default review.token_days", min=1)] = None,
    scope: Annotated[
        str, typer.Option(help="review (the review API) or ingest (POST /api/documents only)")
    ] = "review",
) -> None:
    """Print a new API token for a user (shown once; only its hash is stored)."""
    from autoclerk.accounts import add_token

    settings = _prepared()
    days = days or settings.review.token_days
    token, expires = _run(
        add_token(db_url=settings.db.url, username=username, name=name, days=days, scope=scope)
    )
    console.print(f"expires {expires:%Y-%m-%d %H:%M} UTC")
    print(token)


def _prepared() -> Settings:
    from autoclerk.accounts import prepare_database

    settings = Settings()
    prepare_database(settings.db.url)
    return settings


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run one account operation; a refusal (no such user, weak password) exits 1."""
    from review.errors import ReviewError

    try:
        return asyncio.run(work)
    except ReviewError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc


@users_app.command("disable")
def disable(username: Annotated[str, typer.Option(help="login name")]) -> None:
    """Disable a user at once: their sessions and API tokens are revoked."""
    from autoclerk.accounts import set_active

    _run(set_active(db_url=_prepared().db.url, username=username, active=False))
    console.print(f"user {username} disabled; sessions and tokens revoked")


@users_app.command("enable")
def enable(username: Annotated[str, typer.Option(help="login name")]) -> None:
    """Enable a disabled user (they log in again; revoked tokens stay revoked)."""
    from autoclerk.accounts import set_active

    _run(set_active(db_url=_prepared().db.url, username=username, active=True))
    console.print(f"user {username} enabled")


@users_app.command("set-password")
def set_password_cmd(
    username: Annotated[str, typer.Option(help="login name")],
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
) -> None:
    """Set a user's password (prompted, or stdin / the environment); their sessions end."""
    from autoclerk.accounts import set_password

    settings = _prepared()
    password = _read_password(from_stdin=password_stdin)
    _run(set_password(db_url=settings.db.url, username=username, password=password))
    console.print(f"password of {username} set; their sessions are ended")


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at else "never"


@tokens_app.command("list")
def tokens_list(username: Annotated[str | None, typer.Option(help="only this user's")] = None) -> None:
    """Every API token, newest first: id, user, name, created, expires, state."""
    from autoclerk.accounts import list_tokens

    for t in _run(list_tokens(db_url=_prepared().db.url, username=username)):
        print(
            f"{t.id}\t{t.username}\t{t.name}\t{_when(t.created_at)}\t{_when(t.expires_at)}\t{t.state}\t{t.scope}"
        )


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="the id `tokens list` shows")]) -> None:
    """Revoke an API token at once."""
    from autoclerk.accounts import revoke_token

    _run(revoke_token(db_url=_prepared().db.url, token_id=token_id))
    console.print(f"token {token_id} revoked")


@sessions_app.command("list")
def sessions_list(username: Annotated[str | None, typer.Option(help="only this user's")] = None) -> None:
    """Live browser sessions: key, user, last seen, expires, address, browser."""
    from autoclerk.accounts import list_sessions

    for x in _run(list_sessions(db_url=_prepared().db.url, username=username)):
        print(
            f"{x.key}\t{x.username}\t{_when(x.last_seen_at)}\t{_when(x.expires_at)}\t{x.address}\t{x.user_agent}"
        )


@sessions_app.command("revoke")
def sessions_revoke(key: Annotated[str, typer.Argument(help="the key `sessions list` shows")]) -> None:
    """End a browser session at once."""
    from autoclerk.accounts import revoke_session

    _run(revoke_session(db_url=_prepared().db.url, key=key))
    console.print("session revoked")
