"""The review UI as part of `autoclerk run`: served until Ctrl-C, with the worker still
running so that every review completed in the browser becomes a decision."""

from __future__ import annotations

import secrets

import uvicorn
from rich.console import Console
from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.db.engine import make_async_engine
from infra.settings import Settings
from review.app import create_app
from review.auth import create_user
from review.publish import KafkaPublisher


async def serve_review(*, settings: Settings, bootstrap: str, console: Console) -> None:
    engine = make_async_engine(settings.db.url)
    # A per-run reviewer with a random password, shown once: never a default password.
    # Admins are created with `autoclerk users create-admin`.
    password = secrets.token_urlsafe(12)
    username = f"demo-{secrets.token_hex(3)}"
    async with async_sessionmaker(engine)() as s:
        await create_user(s, username=username, password=password, role="lead")
    app = create_app(settings=settings, engine=engine, publisher=KafkaPublisher(bootstrap=bootstrap))
    host, port = settings.review.host, settings.review.port
    console.print(
        f"\n[bold]review UI:[/bold] http://{host}:{port}/  (user [bold]{username}[/bold], "
        f"password [bold]{password}[/bold]; API docs at /api/docs)\n"
        "Ctrl-C stops the UI, the worker and the broker."
    )
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    try:
        await server.serve()
    finally:
        await engine.dispose()
