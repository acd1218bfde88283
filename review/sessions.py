"""Browser sessions kept in `review_sessions`, so that they can be ended server side.

The signed cookie carries a random 256-bit session id (and the CSRF token); the table
keeps its SHA-256, the user, when it was made, last seen and expires, and the user
agent and address at login for the admin listing. A session counts only while it is
neither revoked nor expired and its user is active: logging out, an admin's revoke,
and disabling the user all end it on the next request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import ReviewSessionRow, ReviewUserRow

# last_seen_at is written at most this often per session: a write per request would
# serialise every page view behind SQLite's single writer.
TOUCH_EVERY = timedelta(minutes=1)


def session_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def open_session(
    s: AsyncSession, *, username: str, now: datetime, lifetime: timedelta, user_agent: str, address: str
) -> str:
    """A new session for `username`; returns the id for the cookie (never stored)."""
    session_id = secrets.token_urlsafe(32)
    s.add(
        ReviewSessionRow(
            id=session_key(session_id),
            username=username,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            user_agent=user_agent[:200],
            address=address[:64],
        )
    )
    await s.commit()
    return session_id


async def live_session(
    s: AsyncSession, *, session_id: str, now: datetime
) -> tuple[ReviewUserRow, ReviewSessionRow] | None:
    """The user and session behind a cookie's id, if the session is live."""
    row = (
        await s.execute(
            select(ReviewUserRow, ReviewSessionRow)
            .join(ReviewSessionRow, col(ReviewSessionRow.username) == col(ReviewUserRow.username))
            .where(
                col(ReviewSessionRow.id) == session_key(session_id),
                col(ReviewSessionRow.revoked_at).is_(None),
                col(ReviewSessionRow.expires_at) > now,
                col(ReviewUserRow.active).is_(True),
            )
        )
    ).one_or_none()
    return (row[0], row[1]) if row else None


def needs_touch(session: ReviewSessionRow, *, now: datetime) -> bool:
    return now - session.last_seen_at >= TOUCH_EVERY


async def touch(s: AsyncSession, *, key: str, now: datetime) -> None:
    await s.execute(update(ReviewSessionRow).where(col(ReviewSessionRow.id) == key).values(last_seen_at=now))
    await s.commit()


async def revoke_session(s: AsyncSession, *, session_id: str, now: datetime) -> None:
    """Log out: end the session whose id the cookie carries."""
    await revoke_sessions(s, keys=[session_key(session_id)], now=now)


async def revoke_sessions(
    s: AsyncSession, *, now: datetime, keys: list[str] | None = None, username: str | None = None
) -> int:
    """End sessions by stored key, or all of a user's; returns how many were live."""
    q = update(ReviewSessionRow).where(col(ReviewSessionRow.revoked_at).is_(None))
    if keys is not None:
        q = q.where(col(ReviewSessionRow.id).in_(keys))
    if username is not None:
        q = q.where(col(ReviewSessionRow.username) == username)
    result = await s.execute(q.values(revoked_at=now))
    await s.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
