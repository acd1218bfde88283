"""`autoclerk review serve` and `autoclerk users ...`: the review UI's commands.

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

from infra.settings import Settings

review_app = typer.Typer(no_args_is_help=True, help="The reviewer web UI and HTTP API.")
users_app = typer.Typer(no_args_is_help=True, help="Review UI users and API tokens.")
console = Console(stderr=True)
PASSWORD_ENV = "AUTOCLERK_ADMIN_PASSWORD"


@review_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="default: review.host (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="default: review.port")] = None,
    lease_minutes: Annotated[float, typer.Option(help="how long a reviewer holds a task")] = 15.0,
) -> None:
    """Serve the review UI and /api (OpenAPI docs at /api/docs)."""
    import uvicorn

    from autoclerk.wiring import routing_policy
    from infra.db.engine import make_async_engine, migrate
    from review.app import create_app
    from review.publish import KafkaPublisher

    settings = Settings()
    if settings.kafka.bootstrap is None:
        console.print("[red]no broker: set AUTOCLERK_KAFKA__BOOTSTRAP (review.completed must go somewhere)")
        raise typer.Exit(2)
    migrate(settings.db.url)
    app = create_app(
        settings=settings,
        engine=make_async_engine(settings.db.url),
        publisher=KafkaPublisher(bootstrap=settings.kafka.bootstrap),
        lease_s=lease_minutes * 60,
        routing=routing_policy(settings),
    )
    uvicorn.run(app, host=host or settings.review.host, port=port or settings.review.port, log_level="info")


def _read_password(*, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        console.print(f"[red]no terminal to prompt on: use --password-stdin or set {PASSWORD_ENV}")
        raise typer.Exit(2)
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


async def _create(url: str, *, username: str, password: str, role: str) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from infra.db.engine import make_async_engine
    from review.auth import create_user

    engine = make_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as s:
            await create_user(s, username=username, password=password, role=role)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


def _create_user(*, username: str, role: str, password_stdin: bool) -> None:
    from infra.db.engine import migrate
    from review.errors import Invalid

    settings = Settings()
    migrate(settings.db.url)
    password = _read_password(from_stdin=password_stdin)
    try:
        asyncio.run(_create(settings.db.url, username=username, password=password, role=role))
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
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from infra.db.engine import make_async_engine, migrate
    from review.auth import create_token

    settings = Settings()
    migrate(settings.db.url)

    async def go() -> str:
        engine = make_async_engine(settings.db.url)
        try:
            async with async_sessionmaker(engine)() as s:
                return await create_token(s, username=username, name=name)
        finally:
            await engine.dispose()

    print(asyncio.run(go()))
