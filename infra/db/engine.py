"""Database engines and migrations.

One schema (SQLModel tables) on SQLite or PostgreSQL. Migrations are Alembic's,
run programmatically so `autoclerk run` on a fresh machine needs no extra step.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sync_url(url: str) -> str:
    """The driver Alembic and CLI reports use (sqlite, psycopg)."""
    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        return u.set(drivername="sqlite").render_as_string(hide_password=False)
    if u.drivername.startswith("postgresql"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def async_url(url: str) -> str:
    """The driver the worker uses; psycopg 3 serves both sync and async."""
    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        return u.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if u.drivername.startswith("postgresql"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
        return Path(u.database)
    return None


def _connect_args(url: str, schema: str | None) -> dict[str, object]:
    if schema and make_url(url).drivername.startswith("postgresql"):
        return {"options": f"-csearch_path={schema}"}
    if make_url(url).drivername.startswith("sqlite"):
        return {"timeout": 30}
    return {}


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    # WAL lets the review UI read while the worker writes; NORMAL sync is durable
    # across process crashes (our failure model), which is what the tests kill.
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str, *, schema: str | None = None, echo: bool = False) -> Engine:
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        sync_url(url), echo=echo, connect_args=_connect_args(url, schema), pool_pre_ping=True
    )
    if path is not None:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_async_engine(url: str, *, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        async_url(url), echo=echo, connect_args=_connect_args(url, schema), pool_pre_ping=True
    )
    if path is not None:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def migrate(url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Bring the database to `revision`. Idempotent."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    engine = make_engine(url, schema=schema)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
