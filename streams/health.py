"""What the edge knows about its own health: messages stalled on a transient failure.

A database or broker outage does not fail messages; they wait and retry (see
`streams.handler`). Meanwhile the worker is alive but not making progress, and
operators need to see that: `EdgeHealth.snapshot()` says how many messages wait,
since when, on which partitions and why.

A stalled partition is paused here, at our level: `wait_until_clear` holds back
new messages of that partition until the stall ends, so they neither hammer the
failing dependency nor overtake it. Not faust's `pause_partitions`: faust 0.15
drops records already fetched for a partition paused mid-batch (its `getmany`
skips them while the fetch position has moved on), which loses them until the next
restart and lets a later acknowledgement commit past them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from schemas.messages import MessageMeta


@dataclass
class _Stall:
    since: float
    error: str


@dataclass
class EdgeHealth:
    """Counts and current stalls; cheap enough to update on every retry."""

    stalled: dict[tuple[str, int, int], _Stall] = field(default_factory=dict)
    _clear: dict[tuple[str, int], asyncio.Event] = field(default_factory=dict)
    paused_total: int = 0
    retries: int = 0
    recovered: int = 0
    gave_up: int = 0
    dead_lettered: int = 0

    def retrying(self, meta: MessageMeta, error: BaseException | None) -> float:
        """Record a failed attempt; returns for how long this message has been stalled."""
        self.retries += 1
        key = (meta.topic, meta.partition, meta.offset)
        stall = self.stalled.get(key)
        if stall is None:
            stall = self.stalled[key] = _Stall(since=time.monotonic(), error=repr(error))
            self._clear.setdefault(key[:2], asyncio.Event()).clear()
        stall.error = repr(error)
        return time.monotonic() - stall.since

    def settled(self, meta: MessageMeta, *, gave_up: bool = False) -> None:
        """The message left the retry loop (succeeded, or gave up)."""
        key = (meta.topic, meta.partition, meta.offset)
        if self.stalled.pop(key, None) is None:
            return
        if gave_up:
            self.gave_up += 1
        else:
            self.recovered += 1
        if not any(k[:2] == key[:2] for k in self.stalled):
            self._clear.setdefault(key[:2], asyncio.Event()).set()

    async def wait_until_clear(self, meta: MessageMeta) -> None:
        """Hold a message back while an earlier one of its partition waits out a failure."""
        key = (meta.topic, meta.partition)
        if any(k[:2] == key and k[2] < meta.offset for k in self.stalled):
            self.paused_total += 1
            await self._clear[key].wait()

    @property
    def healthy(self) -> bool:
        return not self.stalled

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        oldest = min((s.since for s in self.stalled.values()), default=None)
        return {
            "status": "ok" if self.healthy else "degraded",
            "stalled_messages": len(self.stalled),
            "stalled_partitions": sorted({f"{t}[{p}]" for t, p, _ in self.stalled}),
            "stalled_for_s": round(now - oldest, 1) if oldest is not None else 0.0,
            "last_error": next(reversed(self.stalled.values())).error if self.stalled else None,
            "retries_total": self.retries,
            "recovered_total": self.recovered,
            "gave_up_total": self.gave_up,
            "dead_lettered_total": self.dead_lettered,
            "held_back_total": self.paused_total,
        }
