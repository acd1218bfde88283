"""Who is asking: reviewers log in with a password (argon2id), machines send a token.

Browser sessions live in a signed cookie (Starlette's SessionMiddleware, itsdangerous)
that carries the username and a CSRF token; every state-changing request made with
that cookie must echo the token. Token (Bearer) requests carry no ambient credential,
so they need no CSRF token. The role is read from the database on every request so
that deactivating a user takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import ApiTokenRow, ReviewUserRow
from review.errors import Forbidden, Invalid

Role = Literal["reviewer", "lead", "admin"]
ROLES: tuple[Role, ...] = ("reviewer", "lead", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}
_USERNAME = re.compile(r"^[a-zA-Z0-9_.@-]{2,64}$")
MIN_PASSWORD = 12
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong username costs as much
# time as a wrong password and does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role
    via: Literal["session", "token"]

    def has(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def require(self, role: Role) -> None:
        if not self.has(role):
            raise Forbidden(f"needs role {role}")


def _principal(user: ReviewUserRow, *, via: Literal["session", "token"]) -> Principal:
    return Principal(username=user.username, role=cast(Role, user.role), via=via)


def validate_credentials(*, username: str, password: str) -> None:
    if not _USERNAME.match(username):
        raise Invalid("username: 2-64 letters, digits or _ . @ -")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password must have at least {MIN_PASSWORD} characters")


async def create_user(s: AsyncSession, *, username: str, password: str, role: Role) -> None:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}")
    validate_credentials(username=username, password=password)
    s.add(ReviewUserRow(username=username, password_hash=_hasher.hash(password), role=role))
    try:
        await s.commit()
    except IntegrityError as exc:
        await s.rollback()
        raise Invalid(f"user {username!r} exists") from exc


async def authenticate(s: AsyncSession, *, username: str, password: str) -> Principal | None:
    user = await s.get(ReviewUserRow, username) if _USERNAME.match(username) else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        await s.commit()
    return _principal(user, via="session")


async def session_principal(s: AsyncSession, *, username: str) -> Principal | None:
    user = await s.get(ReviewUserRow, username)
    if user is None or not user.active:
        return None
    return _principal(user, via="session")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(s: AsyncSession, *, username: str, name: str) -> str:
    """A new token for `username`; the only time it is ever shown."""
    if await s.get(ReviewUserRow, username) is None:
        raise Invalid(f"no user {username!r}")
    token = "ac_" + secrets.token_urlsafe(32)
    s.add(ApiTokenRow(token_hash=_token_hash(token), username=username, name=name))
    await s.commit()
    return token


async def token_principal(s: AsyncSession, *, token: str) -> Principal | None:
    row = (
        await s.execute(
            select(ReviewUserRow)
            .join(ApiTokenRow, col(ApiTokenRow.username) == col(ReviewUserRow.username))
            .where(col(ApiTokenRow.token_hash) == _token_hash(token), col(ApiTokenRow.revoked_at).is_(None))
        )
    ).scalar_one_or_none()
    if row is None or not row.active:
        return None
    return _principal(row, via="token")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
