"""Worker processes that `autoclerk run` keeps alive.

A worker exits when it cannot go on (retries exhausted, database gone, a crash):
its unacknowledged messages are delivered again to whichever worker consumes next,
so restarting it is always safe. Each restart waits a little longer (1, 2, 4 … 30 s);
a worker that died `max_restarts` times within `window_s` is given up on, with its
exit codes and log, instead of restarting it forever.
"""

from __future__ import annotations

import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Supervisor", "WorkerKeepsDying"]


class WorkerKeepsDying(RuntimeError):
    """A worker exited too often in too short a time; restarting it again would not help."""


@dataclass
class _Slot:
    index: int
    log_path: Path
    proc: subprocess.Popen[bytes]
    exits: deque[float] = field(default_factory=deque)
    codes: list[int] = field(default_factory=list)
    restart_at: float | None = None


class Supervisor:
    def __init__(
        self,
        *,
        spawn: Callable[[Path], subprocess.Popen[bytes]],
        log_paths: list[Path],
        say: Callable[[str], None],
        max_restarts: int = 5,
        window_s: float = 300.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._spawn = spawn
        self._say = say
        self._max_restarts = max_restarts
        self._window_s = window_s
        self._max_backoff_s = max_backoff_s
        self._slots = [_Slot(i, p, spawn(p)) for i, p in enumerate(log_paths)]
        self.restarts = 0

    @property
    def pids(self) -> list[int]:
        return [s.proc.pid for s in self._slots]

    def all_running(self) -> bool:
        return all(s.restart_at is None and s.proc.poll() is None for s in self._slots)

    def check(self, *, now: float | None = None) -> None:
        """Notice exited workers and restart those whose backoff has passed (non-blocking)."""
        now = time.monotonic() if now is None else now
        for slot in self._slots:
            if slot.restart_at is None:
                code = slot.proc.poll()
                if code is None:
                    continue
                self._exited(slot, code, now)
            if slot.restart_at is not None and now >= slot.restart_at:
                slot.proc = self._spawn(slot.log_path)
                slot.restart_at = None
                self.restarts += 1
                self._say(f"worker {slot.index} restarted (pid {slot.proc.pid}); log {slot.log_path}")

    def _exited(self, slot: _Slot, code: int, now: float) -> None:
        slot.codes.append(code)
        slot.exits.append(now)
        while slot.exits and now - slot.exits[0] > self._window_s:
            slot.exits.popleft()
        if len(slot.exits) > self._max_restarts:
            raise WorkerKeepsDying(
                f"worker {slot.index} exited {len(slot.exits)} times within {self._window_s:.0f}s "
                f"(exit codes {slot.codes[-len(slot.exits) :]}); giving up. Its log: {slot.log_path}"
            )
        delay = min(2.0 ** (len(slot.exits) - 1), self._max_backoff_s)
        slot.restart_at = now + delay
        self._say(
            f"worker {slot.index} (pid {slot.proc.pid}) exited with code {code}; restarting in "
            f"{delay:.0f}s ({len(slot.exits)} of {self._max_restarts} allowed per "
            f"{self._window_s:.0f}s). Its log: {slot.log_path}"
        )

    def stop(self, *, timeout_s: float = 15.0) -> None:
        for slot in self._slots:
            if slot.proc.poll() is None:
                slot.proc.terminate()
        for slot in self._slots:
            try:
                slot.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                slot.proc.wait()
