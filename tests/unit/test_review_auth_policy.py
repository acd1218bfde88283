"""Login throttle windows, the password policy, the session secret and cookie settings."""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid

import pytest

from infra.settings import ReviewSettings, check_secret_key
from review.errors import Invalid, Throttled
from review.passwords import MAX_PASSWORD, Hashing, check_password, common_passwords
from review.throttle import LoginGuard, SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_sliding_window_limits_per_key_and_forgets_old_attempts() -> None:
    clock = Clock()
    w = SlidingWindow(limit=3, window_s=60, clock=clock)
    assert [w.hit("a") for _ in range(3)] == [0, 0, 0]
    assert w.hit("a") == 60 and w.hit("b") == 0
    clock.t += 30
    assert w.hit("a") == 30  # refused attempts are not recorded: the wait does not grow
    clock.t += 30.5
    assert w.hit("a") == 0
    w.clear("a")
    assert [w.hit("a") for _ in range(3)] == [0, 0, 0]


def test_sliding_window_keeps_a_bounded_number_of_keys() -> None:
    w = SlidingWindow(limit=1, window_s=60, max_keys=100, clock=Clock())
    for i in range(1000):
        w.hit(f"10.0.{i // 256}.{i % 256}")
    assert len(w) == 100
    assert w.hit("10.0.3.231") > 0 and w.hit("10.0.0.0") == 0  # recent kept, oldest forgotten


def test_login_guard_throttles_address_and_account_and_a_success_clears_the_account() -> None:
    guard = LoginGuard(SlidingWindow(2, 60, clock=Clock()), SlidingWindow(5, 60, clock=Clock()))
    guard.admit(username="Ana", address="a1")
    guard.admit(username="ana", address="a2")
    with pytest.raises(Throttled, match="account") as exc:
        guard.admit(username="ANA", address="a3")
    assert exc.value.status_code == 429 and exc.value.retry_after == 60
    guard.succeeded(username="ana")
    guard.admit(username="ana", address="a3")
    for i in range(5):
        guard.admit(username=f"u{i}", address="a9")
    with pytest.raises(Throttled, match="address"):
        guard.admit(username="someone", address="a9")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-1", "at least 12"),
        ("x" * (MAX_PASSWORD + 1), "at most"),
        ("aaaaaaaabbbbbbbb", "different characters"),
        ("1qaz2wsx3edc", "common"),
        ("Password2024!", "common"),
        ("!!Football123", "common"),
        ("michael-secret-ana", "username"),
        ("plum-ladder-91-sky", None),
        ("correct horse battery", None),
    ],
)
def test_password_policy(password: str, reason: str | None) -> None:
    if reason is None:
        check_password(password, username="ana")
    else:
        with pytest.raises(Invalid, match=reason):
            check_password(password, username="ana")


def test_the_common_list_ships_with_the_package() -> None:
    common = common_passwords()
    assert len(common) == 10_000 and {"password", "123456", "qwerty"} <= common


async def test_hashing_runs_off_the_loop_bounded_and_refuses_a_long_queue() -> None:
    hashing = Hashing(threads=1, max_waiting=2)
    h = await hashing.hash("plum-ladder-91-sky")
    assert await hashing.verify(h, "plum-ladder-91-sky") and not await hashing.verify(h, "wrong")
    assert not await hashing.verify(None, "anything")  # no such user still costs a verification
    threads: set[int] = set()
    original = hashing._run

    async def spy(fn):  # type: ignore[no-untyped-def]
        return await original(lambda: (threads.add(threading.get_ident()), fn())[1])

    hashing._run = spy  # type: ignore[method-assign]
    results = await asyncio.gather(*(hashing.verify(h, "x") for _ in range(4)), return_exceptions=True)
    assert threading.get_ident() not in threads
    assert sum(isinstance(r, Throttled) for r in results) == 2  # two wait, the rest are refused


def test_session_secret_needs_32_random_bytes() -> None:
    for good in (secrets.token_urlsafe(48), secrets.token_urlsafe(32), secrets.token_hex(32)):
        check_secret_key(good)
    for bad in ("secret", "x" * 31, uuid.uuid4().hex, "correct horse battery staple 12345", "ab" * 40):
        with pytest.raises(ValueError, match="token_urlsafe"):
            check_secret_key(bad)
    with pytest.raises(ValueError):
        ReviewSettings(secret_key="changethis")  # type: ignore[arg-type]


def test_secure_cookies_default_to_on_unless_the_host_is_local() -> None:
    assert not ReviewSettings().cookies_secure
    assert not ReviewSettings(host="localhost").cookies_secure
    assert ReviewSettings(host="0.0.0.0").cookies_secure
    assert not ReviewSettings(host="0.0.0.0", secure_cookies=False).cookies_secure
    assert ReviewSettings(secure_cookies=True).cookies_secure
