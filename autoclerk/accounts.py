"""Review UI accounts and API tokens in the configured database, for `autoclerk users`.

Migrates first (a fresh database gets its tables), then calls `review.auth` in one
session on a short-lived engine.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker

from infra.db.engine import make_async_engine, migrate
from review.auth import Principal, create_token, create_user
from review.scope_admin import ScopeIn, ScopeOut, add_scope, list_scopes, remove_scope

# Whoever may run `autoclerk users` against the database is its operator: an admin.
OPERATOR = Principal(username="autoclerk-cli", role="admin", via="token")


async def add_user(*, db_url: str, username: str, password: str, role: str) -> None:
    """Create a user (`review.errors.Invalid` for a bad role, name or password)."""
    engine = make_async_engine(db_url)
    try:
        async with async_sessionmaker(engine)() as s:
            await create_user(s, username=username, password=password, role=role)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def add_token(*, db_url: str, username: str, name: str) -> str:
    """A new API token for `username`; only its hash is stored."""
    engine = make_async_engine(db_url)
    try:
        async with async_sessionmaker(engine)() as s:
            return await create_token(s, username=username, name=name)
    finally:
        await engine.dispose()


async def add_user_scope(*, db_url: str, username: str, scope: ScopeIn) -> ScopeOut:
    """Give `username` a queue scope (`review.errors.Invalid` for an unknown user)."""
    engine = make_async_engine(db_url)
    try:
        async with async_sessionmaker(engine)() as s:
            return await add_scope(s, actor=OPERATOR, username=username, scope=scope)
    finally:
        await engine.dispose()


async def user_scopes(*, db_url: str, username: str | None) -> list[ScopeOut]:
    engine = make_async_engine(db_url)
    try:
        async with async_sessionmaker(engine)() as s:
            return await list_scopes(s, actor=OPERATOR, username=username)
    finally:
        await engine.dispose()


async def remove_user_scope(*, db_url: str, scope_id: int) -> None:
    """`review.errors.NotFound` for an unknown scope id."""
    engine = make_async_engine(db_url)
    try:
        async with async_sessionmaker(engine)() as s:
            await remove_scope(s, actor=OPERATOR, scope_id=scope_id)
    finally:
        await engine.dispose()


def prepare_database(db_url: str) -> None:
    migrate(db_url)
