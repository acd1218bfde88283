"""Login throttling: a sliding window per username and per client address.

Written here rather than taken from `limits` (PyPI): what is needed is ~50 lines (a
deque of attempt times per key, an LRU bound on keys, the seconds until the oldest
attempt leaves the window for Retry-After, and "a success clears the account"), while
`limits`' in-memory storage keeps every key until a background timer expires it (no
bound on keys), gives no per-key reset, and would add a dependency to the lock file.

State is per process: with N review processes an address gets up to N times the limit.
It is checked and recorded in one step with no await in between, so a burst of
concurrent requests cannot all pass the check before any of them is counted.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from review.errors import Throttled


@dataclass
class SlidingWindow:
    """At most `limit` events per key in any `window_s` seconds; at most `max_keys` keys
    are remembered (the least recently used is forgotten first)."""

    limit: int
    window_s: float
    max_keys: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _events: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def hit(self, key: str) -> int:
        """Record an event for `key`: 0 if allowed, else seconds until one would be."""
        now = self.clock()
        events = self._events.pop(key, None) or deque()
        while events and events[0] <= now - self.window_s:
            events.popleft()
        self._events[key] = events
        if len(self._events) > self.max_keys:
            self._events.popitem(last=False)
        if len(events) >= self.limit:
            return max(1, math.ceil(events[0] + self.window_s - now))
        events.append(now)
        return 0

    def clear(self, key: str) -> None:
        self._events.pop(key, None)

    def __len__(self) -> int:
        return len(self._events)


@dataclass
class LoginGuard:
    """Both windows at once; an attempt refused by either counts against neither
    further, so a throttled flood costs no hashing and does not extend its own wait."""

    by_account: SlidingWindow
    by_address: SlidingWindow

    @classmethod
    def of(cls, *, account_limit: int, address_limit: int, window_s: float) -> LoginGuard:
        return cls(SlidingWindow(account_limit, window_s), SlidingWindow(address_limit, window_s))

    def admit(self, *, username: str, address: str) -> None:
        """Count one attempt, or raise `Throttled` with the seconds to wait."""
        wait = self.by_address.hit(address)
        if wait:
            raise Throttled("too many login attempts from your address; retry later", retry_after=wait)
        wait = self.by_account.hit(username.lower())
        if wait:
            raise Throttled("too many login attempts for this account; retry later", retry_after=wait)

    def succeeded(self, *, username: str) -> None:
        self.by_account.clear(username.lower())
