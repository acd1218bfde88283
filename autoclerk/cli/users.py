"""`autoclerk users ...`: review UI users and API tokens.

Passwords are never defaults and never arguments (they would land in shell history
and `ps`): they come from a prompt, from stdin (`--password-stdin`), or from the
environment variable AUTOCLERK_ADMIN_PASSWORD for scripts.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from autoclerk.cli.scopes import scopes_app
from infra.settings import Settings

users_app = typer.Typer(no_args_is_help=True, help="Review UI users and API tokens.")
users_app.add_typer(scopes_app, name="scopes")
console = Console(stderr=True)
PASSWORD_ENV = "AUTOCLERK_ADMIN_PASSWORD"


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
) -> None:
    """Print a new API token for a user (shown once; only its hash is stored)."""
    from autoclerk.accounts import add_token, prepare_database

    settings = Settings()
    prepare_database(settings.db.url)
    print(asyncio.run(add_token(db_url=settings.db.url, username=username, name=name)))
