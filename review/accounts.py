"""Looking after accounts: list users, sessions and tokens; revoke; disable and enable
users; set a password. The admin page and API (review/admin.py) and `autoclerk users`
(autoclerk/accounts.py) call these; who may is checked at those edges.

Disabling a user revokes their sessions and tokens as well (re-enabling restores
neither: they log in again and get new tokens), and setting a password ends their
sessions. Sessions are listed by their stored key, the SHA-256 of the cookie's id,
which identifies a session without being able to log anyone in.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import ApiTokenRow, ReviewSessionRow, ReviewUserRow
from review.errors import NotFound
from review.passwords import Hashing, check_password
from review.sessions import revoke_sessions


class UserView(BaseModel):
    username: str
    role: str
    active: bool
    created_at: datetime
    live_sessions: int


class SessionView(BaseModel):
    key: str
    username: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str
    address: str


class TokenView(BaseModel):
    id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    state: str
    """live, revoked or expired"""
    scope: str = "review"
    """review (the review API) or ingest (POST /api/documents only)"""


def _live_session(now: datetime) -> list[object]:
    return [col(ReviewSessionRow.revoked_at).is_(None), col(ReviewSessionRow.expires_at) > now]


async def list_users(s: AsyncSession, *, now: datetime) -> list[UserView]:
    live = (
        select(col(ReviewSessionRow.username), func.count().label("n"))
        .where(*_live_session(now))  # type: ignore[arg-type]
        .group_by(col(ReviewSessionRow.username))
        .subquery()
    )
    rows = (
        await s.execute(
            select(ReviewUserRow, func.coalesce(live.c.n, 0))
            .outerjoin(live, live.c.username == col(ReviewUserRow.username))
            .order_by(col(ReviewUserRow.username))
        )
    ).all()
    return [
        UserView(username=u.username, role=u.role, active=u.active, created_at=u.created_at, live_sessions=n)
        for u, n in rows
    ]


async def list_sessions(s: AsyncSession, *, now: datetime, username: str | None = None) -> list[SessionView]:
    """Live sessions, most recently seen first."""
    q = select(ReviewSessionRow).where(*_live_session(now))  # type: ignore[arg-type]
    if username is not None:
        q = q.where(col(ReviewSessionRow.username) == username)
    rows = (await s.execute(q.order_by(col(ReviewSessionRow.last_seen_at).desc()).limit(1000))).scalars()
    return [SessionView(key=r.id, **r.model_dump(exclude={"id", "revoked_at"})) for r in rows]


def _token_state(row: ApiTokenRow, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "live"


async def list_tokens(s: AsyncSession, *, now: datetime, username: str | None = None) -> list[TokenView]:
    """Every token, newest first (no token itself: only its hash was ever stored)."""
    q = select(ApiTokenRow).order_by(col(ApiTokenRow.id).desc()).limit(1000)
    if username is not None:
        q = q.where(col(ApiTokenRow.username) == username)
    rows = (await s.execute(q)).scalars()
    return [
        TokenView(state=_token_state(r, now), **r.model_dump(exclude={"token_hash"}))  # type: ignore[arg-type]
        for r in rows
    ]


async def revoke_session_key(s: AsyncSession, *, key: str, now: datetime) -> None:
    if not await revoke_sessions(s, keys=[key], now=now):
        raise NotFound("no live session with that key")


async def revoke_token(s: AsyncSession, *, token_id: int, now: datetime) -> None:
    result = await s.execute(
        update(ApiTokenRow)
        .where(col(ApiTokenRow.id) == token_id, col(ApiTokenRow.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    await s.commit()
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no live token {token_id}")


async def _user(s: AsyncSession, username: str) -> ReviewUserRow:
    user = await s.get(ReviewUserRow, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


async def set_active(s: AsyncSession, *, username: str, active: bool, now: datetime) -> None:
    """Enable or disable; disabling also revokes every session and token of the user."""
    user = await _user(s, username)
    user.active = active
    if not active:
        await s.execute(
            update(ApiTokenRow)
            .where(col(ApiTokenRow.username) == username, col(ApiTokenRow.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        await s.flush()
        await revoke_sessions(s, username=username, now=now)  # commits
    else:
        await s.commit()


async def set_password(
    s: AsyncSession, *, username: str, password: str, now: datetime, hashing: Hashing | None = None
) -> None:
    """A new password (the policy of review/passwords.py); the user's sessions end."""
    user = await _user(s, username)
    check_password(password, username=username)
    user.password_hash = await (hashing or Hashing(threads=1)).hash(password)
    await s.flush()
    await revoke_sessions(s, username=username, now=now)  # commits
