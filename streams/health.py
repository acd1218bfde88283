"""What the edge knows about its own health: messages stalled on a transient failure.

A database or broker outage does not fail messages; they wait and retry (see
`streams.handler`). Meanwhile the worker is alive but not making progress, and
operators need to see that: `EdgeHealth.snapshot()` says how many messages wait,
since when, on which partitions and why, and `on_stall`/`on_recover` let the app
pause the partitions concerned so no more work is pulled from them meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schemas.messages import MessageMeta

PartitionHook = Callable[[str, int], None]


@dataclass
class _Stall:
    since: float
    error: str


@dataclass
class EdgeHealth:
    """Counts and current stalls; cheap enough to update on every retry."""

    on_stall: PartitionHook | None = None
    on_recover: PartitionHook | None = None
    stalled: dict[tuple[str, int, int], _Stall] = field(default_factory=dict)
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
            first_on_partition = not any(k[:2] == key[:2] for k in self.stalled)
            stall = self.stalled[key] = _Stall(since=time.monotonic(), error=repr(error))
            if first_on_partition and self.on_stall is not None:
                self.on_stall(meta.topic, meta.partition)
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
        if not any(k[:2] == key[:2] for k in self.stalled) and self.on_recover is not None:
            self.on_recover(meta.topic, meta.partition)

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
        }
