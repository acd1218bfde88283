"""The review UI as part of `autoclerk run`: served until Ctrl-C, with the worker still
running so that every review completed in the browser becomes a decision."""

from __future__ import annotations

import secrets

import uvicorn
from rich.console import Console
from sqlalchemy.ext.asyncio import async_sessionmaker

from autoclerk.adapters import routing_policy
from infra.db.engine import make_async_engine
from infra.settings import Settings
from review.app import create_app
from review.auth import create_user
from review.publish import KafkaPublisher
from review.scope_admin import ScopeIn, grant
from schemas.catalogue import KINDS


async def serve_review(*, settings: Settings, bootstrap: str, console: Console) -> None:
    engine = make_async_engine(settings.db.url)
    # Per-run accounts with random passwords, shown once: never a default password.
    # Two, because some tasks need a second, different reviewer. Admins are created
    # with `autoclerk users create-admin`.
    accounts = {
        f"{role}-{secrets.token_hex(2)}": (role, secrets.token_urlsafe(12)) for role in ("lead", "reviewer")
    }
    async with async_sessionmaker(engine)() as s:
        for username, (role, password) in accounts.items():
            await create_user(s, username=username, password=password, role=role)  # type: ignore[arg-type]
            if role == "reviewer":  # reviewers see only their scopes: both kinds of the sample
                for kind in KINDS:
                    await grant(s, username=username, scope=ScopeIn(kind=kind), by="autoclerk run")
    app = create_app(
        settings=settings,
        engine=engine,
        publisher=KafkaPublisher(bootstrap=bootstrap),
        routing=routing_policy(settings),
        ephemeral_secret=True,
        bootstrap=bootstrap,
    )
    host, port = settings.review.host, settings.review.port
    console.print(f"\n[bold]review UI:[/bold] http://{host}:{port}/   (API docs at /api/docs)")
    for username, (role, password) in accounts.items():
        console.print(f"  {role:8} user [bold]{username}[/bold]  password [bold]{password}[/bold]")
    console.print("Ctrl-C stops the UI, the worker and the broker.")
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    try:
        await server.serve()
    finally:
        await engine.dispose()
