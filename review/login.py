"""Logging in and out: the throttle, the password check off the event loop, the
server-side session. The login page calls these; review/deps.py resolves the cookie.

    log_in: throttle (per address, per account) ─► argon2 in a bounded thread pool
            ─► review_sessions row ─► the id for the signed cookie
    log_out: the session row revoked, so a copied cookie is worthless afterwards
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from infra.settings import ReviewSettings
from review.auth import Principal, authenticate, find_user, session_user_principal, set_password_hash
from review.context import ReviewContext
from review.passwords import Hashing
from review.sessions import live_session, needs_touch, open_session, revoke_session, session_key, touch
from review.throttle import LoginGuard


@dataclass
class LoginPolicy:
    """One per app (review/app.py keeps it on the app's state)."""

    hashing: Hashing = field(default_factory=Hashing)
    guard: LoginGuard = field(
        default_factory=lambda: LoginGuard.of(account_limit=10, address_limit=30, window_s=300.0)
    )
    session_lifetime: timedelta = timedelta(hours=12)
    token_lifetime: timedelta = timedelta(days=90)

    @classmethod
    def from_settings(cls, review: ReviewSettings) -> LoginPolicy:
        return cls(
            hashing=Hashing(threads=review.hash_threads),
            guard=LoginGuard.of(
                account_limit=review.login_account_limit,
                address_limit=review.login_address_limit,
                window_s=review.login_window_s,
            ),
            session_lifetime=timedelta(hours=review.session_hours),
            token_lifetime=timedelta(days=review.token_days),
        )


@dataclass(frozen=True)
class LoggedIn:
    principal: Principal
    session_id: str
    """For the signed cookie; only its hash is stored."""


async def log_in(
    *,
    ctx: ReviewContext,
    policy: LoginPolicy,
    username: str,
    password: str,
    address: str,
    user_agent: str,
    now: datetime,
) -> LoggedIn | None:
    """A new session, or None for a wrong username or password; `Throttled` (429) when
    the address or the account has had too many attempts."""
    policy.guard.admit(username=username, address=address)
    # No database session is held while the hash waits for a thread: a flood would
    # otherwise take every pooled connection from the requests that have a session.
    async with ctx.session() as s:
        user = await find_user(s, username=username)
    who = await authenticate(user, password=password, hashing=policy.hashing)
    if who is None or user is None:
        return None
    policy.guard.succeeded(username=username)
    if policy.hashing.needs_rehash(user.password_hash):
        new_hash = await policy.hashing.hash(password)
        async with ctx.session(write=True) as s:
            await set_password_hash(s, username=who.username, password_hash=new_hash)
    async with ctx.session(write=True) as s:
        session_id = await open_session(
            s,
            username=who.username,
            now=now,
            lifetime=policy.session_lifetime,
            user_agent=user_agent,
            address=address,
        )
    return LoggedIn(principal=who, session_id=session_id)


async def log_out(*, ctx: ReviewContext, session_id: str, now: datetime) -> None:
    async with ctx.session(write=True) as s:
        await revoke_session(s, session_id=session_id, now=now)


async def session_actor(*, ctx: ReviewContext, session_id: str, now: datetime) -> Principal | None:
    """Who a cookie's session id logs in, if the session is live; notes when it was last
    seen (at most once a minute)."""
    async with ctx.session() as s:
        found = await live_session(s, session_id=session_id, now=now)
    if found is None:
        return None
    user, row = found
    if needs_touch(row, now=now):
        async with ctx.session(write=True) as s:
            await touch(s, key=session_key(session_id), now=now)
    return session_user_principal(user)
