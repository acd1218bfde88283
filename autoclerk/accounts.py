"""Review UI accounts and API tokens in the configured database, for `autoclerk users`.

Migrates first (a fresh database gets its tables), then calls `review.auth` or
`review.accounts` in one session on a short-lived engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.db.engine import make_async_engine, migrate
from review import accounts
from review.auth import Principal, create_token, create_user
from review.scope_admin import ScopeIn, ScopeOut, add_scope, list_scopes, remove_scope

# Whoever may run `autoclerk users` against the database is its operator: an admin.
OPERATOR = Principal(username="autoclerk-cli", role="admin", via="token")

T = TypeVar("T")


async def _in_session(db_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_async_engine(db_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as s:
            return await work(s)
    finally:
        await engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


async def add_user(*, db_url: str, username: str, password: str, role: str) -> None:
    """Create a user (`review.errors.Invalid` for a bad role, name or password)."""
    await _in_session(
        db_url,
        lambda s: create_user(s, username=username, password=password, role=role),  # type: ignore[arg-type]
    )


async def add_token(
    *, db_url: str, username: str, name: str, days: int, scope: str = "review"
) -> tuple[str, datetime]:
    """A new API token for `username` and when it expires; only its hash is stored.
    `scope`: review or ingest (`review.errors.Invalid` otherwise)."""
    expires = _now() + timedelta(days=days)
    token = await _in_session(
        db_url,
        lambda s: create_token(s, username=username, name=name, expires_at=expires, scope=scope),  # type: ignore[arg-type]
    )
    return token, expires


async def set_active(*, db_url: str, username: str, active: bool) -> None:
    """Enable, or disable and revoke the user's sessions and tokens (`NotFound`)."""
    await _in_session(db_url, lambda s: accounts.set_active(s, username=username, active=active, now=_now()))


async def set_password(*, db_url: str, username: str, password: str) -> None:
    """A new password (`Invalid` if the policy refuses it); the user's sessions end."""
    await _in_session(
        db_url, lambda s: accounts.set_password(s, username=username, password=password, now=_now())
    )


async def list_tokens(*, db_url: str, username: str | None) -> list[accounts.TokenView]:
    return await _in_session(db_url, lambda s: accounts.list_tokens(s, now=_now(), username=username))


async def revoke_token(*, db_url: str, token_id: int) -> None:
    await _in_session(db_url, lambda s: accounts.revoke_token(s, token_id=token_id, now=_now()))


async def list_sessions(*, db_url: str, username: str | None) -> list[accounts.SessionView]:
    return await _in_session(db_url, lambda s: accounts.list_sessions(s, now=_now(), username=username))


async def revoke_session(*, db_url: str, key: str) -> None:
    await _in_session(db_url, lambda s: accounts.revoke_session_key(s, key=key, now=_now()))


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
