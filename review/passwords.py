"""Passwords: the policy a new password must meet, and argon2id off the event loop.

Policy: 12 to 256 characters (the maximum bounds the work one login can ask of the
hasher), not one of the 10,000 most common passwords shipped beside this module, not
such a password with digits or symbols stuck on ("password2024!"), and more than a
few distinct characters. No network look-up (breach APIs) at run time.

Hashing: argon2id costs ~50 ms of CPU and 64 MiB by design. Computed on the event
loop, four login loops stalled every other request (issue 11); `Hashing` runs it in
a pool of `threads` threads of its own (argon2-cffi releases the GIL) at a lower CPU
priority than the loop, and refuses at once (429) when `max_waiting` requests already
queue for it, so a flood costs bounded memory and CPU, and the loop stays free for
everyone else. Measured with four login loops on a loaded 2-core machine: /api/me p50
about 1 s with argon2 on the loop, 17-29 ms in plain threads, 5-11 ms in the niced pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from review.errors import Invalid, Throttled

MIN_PASSWORD = 12
MAX_PASSWORD = 256
MIN_DISTINCT = 5
_COMMON = Path(__file__).resolve().parent / "common_passwords.txt"
_AFFIXES = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$")
_hasher = PasswordHasher()
T = TypeVar("T")


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = _COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def check_password(password: str, *, username: str = "") -> None:
    """`Invalid` with the reason when `password` may not be set."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"password must have at most {MAX_PASSWORD} characters")
    if len(set(password)) < MIN_DISTINCT:
        raise Invalid(f"password must use at least {MIN_DISTINCT} different characters")
    lowered = password.lower()
    core = _AFFIXES.sub(r"\1", lowered)
    common = common_passwords()
    if lowered in common or (len(core) >= 4 and core in common):
        raise Invalid("password is one of the most common passwords; choose another")
    if username and username.lower() in lowered:
        raise Invalid("password must not contain the username")


class Hashing:
    """argon2id in its own pool of `threads` threads, at a lower CPU priority than the
    event loop; one per app, closed with it."""

    def __init__(self, *, threads: int = 2, max_waiting: int = 64) -> None:
        self.threads = threads
        self.max_waiting = max_waiting
        self._pool: ThreadPoolExecutor | None = None
        self._waiting = 0
        # Verified against when the user does not exist, so a wrong username costs as
        # much time as a wrong password and does not reveal which usernames exist.
        self._dummy: str | None = None

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, "argon2", initializer=_lower_priority)
        if self._waiting >= self.max_waiting:
            raise Throttled("too many logins at once; retry shortly", retry_after=1)
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        finally:
            self._waiting -= 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    async def hash(self, password: str) -> str:
        return await self._run(functools.partial(_hasher.hash, password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; `None` (no such user) costs a verification too."""
        if password_hash is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            password_hash = self._dummy
        return await self._run(functools.partial(_verify, password_hash, password))

    @staticmethod
    def needs_rehash(password_hash: str) -> bool:
        return _hasher.check_needs_rehash(password_hash)


def _lower_priority() -> None:
    """Run this hashing thread (and the lanes argon2 starts from it, which inherit it)
    at a lower CPU priority than the event loop: on a busy machine the loop then still
    gets the cores when it has work. Linux applies a niceness per thread."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
