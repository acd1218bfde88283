"""Who is asking: reviewers log in with a password (argon2id), machines send a token.

A browser login is a `review_sessions` row (review/sessions.py); the signed cookie
(Starlette's SessionMiddleware, itsdangerous) carries only its random id and a CSRF
token, and every state-changing request made with that cookie must echo the token.
Token (Bearer) requests carry no ambient credential, so they need no CSRF token; a
token counts until it is revoked or expires. User, session and token are read from
the database on every request, so disabling a user or revoking takes effect at once.
Password policy and hashing (off the event loop) are review/passwords.py.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import ApiTokenRow, ReviewUserRow
from review.errors import Forbidden, Invalid
from review.passwords import MAX_PASSWORD, Hashing, check_password

Role = Literal["reviewer", "lead", "admin"]
TokenScope = Literal["review", "ingest"]
TOKEN_SCOPES: tuple[TokenScope, ...] = ("review", "ingest")
ROLES: tuple[Role, ...] = ("reviewer", "lead", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}
_USERNAME = re.compile(r"^[a-zA-Z0-9_.@-]{2,64}$")


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role
    via: Literal["session", "token"]
    scope: TokenScope = "review"
    """What the credential is for: a session or a review token reviews (by role); an
    ingest token may only send documents (POST /api/documents), whatever its user's role."""

    def has(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def require(self, role: Role) -> None:
        if not self.has(role):
            raise Forbidden(f"needs role {role}")


def _principal(user: ReviewUserRow, *, via: Literal["session", "token"], scope: str = "review") -> Principal:
    return Principal(
        username=user.username, role=cast(Role, user.role), via=via, scope=cast(TokenScope, scope)
    )


def validate_credentials(*, username: str, password: str) -> None:
    if not _USERNAME.match(username):
        raise Invalid("username: 2-64 letters, digits or _ . @ -")
    check_password(password, username=username)


async def create_user(
    s: AsyncSession, *, username: str, password: str, role: Role, hashing: Hashing | None = None
) -> None:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}")
    validate_credentials(username=username, password=password)
    password_hash = await (hashing or Hashing(threads=1)).hash(password)
    s.add(ReviewUserRow(username=username, password_hash=password_hash, role=role))
    try:
        await s.commit()
    except IntegrityError as exc:
        await s.rollback()
        raise Invalid(f"user {username!r} exists") from exc


async def find_user(s: AsyncSession, *, username: str) -> ReviewUserRow | None:
    return await s.get(ReviewUserRow, username) if _USERNAME.match(username) else None


async def authenticate(user: ReviewUserRow | None, *, password: str, hashing: Hashing) -> Principal | None:
    """`user` (from `find_user`, with no database session held while hashing waits) if
    the password is theirs and they are active. No such user costs a verification too;
    an over-long password is refused before any hashing."""
    if len(password) > MAX_PASSWORD:
        return None
    if not await hashing.verify(user.password_hash if user else None, password):
        return None
    if user is None or not user.active:
        return None
    return _principal(user, via="session")


async def set_password_hash(s: AsyncSession, *, username: str, password_hash: str) -> None:
    user = await s.get(ReviewUserRow, username)
    if user is None:
        raise Invalid(f"no user {username!r}")
    user.password_hash = password_hash
    await s.commit()


def session_user_principal(user: ReviewUserRow) -> Principal:
    return _principal(user, via="session")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    s: AsyncSession,
    *,
    username: str,
    name: str,
    expires_at: datetime | None = None,
    scope: TokenScope = "review",
) -> str:
    """A new token for `username`; the only time it is ever shown. `expires_at` None: no
    expiry (callers pass the configured lifetime; the API and CLI always do). `scope`:
    review (the review API, by the user's role) or ingest (POST /api/documents only)."""
    if scope not in TOKEN_SCOPES:
        raise Invalid(f"token scope must be one of {', '.join(TOKEN_SCOPES)}")
    if await s.get(ReviewUserRow, username) is None:
        raise Invalid(f"no user {username!r}")
    token = "ac_" + secrets.token_urlsafe(32)
    s.add(
        ApiTokenRow(
            token_hash=_token_hash(token), username=username, name=name, expires_at=expires_at, scope=scope
        )
    )
    await s.commit()
    return token


async def token_principal(s: AsyncSession, *, token: str, now: datetime) -> Principal | None:
    found = (
        await s.execute(
            select(ReviewUserRow, col(ApiTokenRow.scope))
            .join(ApiTokenRow, col(ApiTokenRow.username) == col(ReviewUserRow.username))
            .where(
                col(ApiTokenRow.token_hash) == _token_hash(token),
                col(ApiTokenRow.revoked_at).is_(None),
                or_(col(ApiTokenRow.expires_at).is_(None), col(ApiTokenRow.expires_at) > now),
            )
        )
    ).one_or_none()
    if found is None or not found[0].active:
        return None
    return _principal(found[0], via="token", scope=found[1])


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
