"""`autoclerk run`'s supervisor: restarts a worker that exits, with backoff, then gives up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autoclerk.supervise import Supervisor, WorkerKeepsDying


def _dies(_log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])


def test_restarts_with_backoff_then_gives_up(tmp_path: Path) -> None:
    said: list[str] = []
    sup = Supervisor(
        spawn=_dies, log_paths=[tmp_path / "w.log"], say=said.append, max_restarts=2, window_s=100
    )
    for proc in sup._slots:
        proc.proc.wait()
    sup.check(now=0.0)  # exit noticed: restart after 1 s
    assert sup.restarts == 0 and "exited with code 3" in said[-1] and "w.log" in said[-1]
    sup.check(now=1.0)
    assert sup.restarts == 1 and "restarted" in said[-1]
    sup._slots[0].proc.wait()
    sup.check(now=2.0)  # second exit: 2 s backoff
    assert "restarting in 2s" in said[-1]
    sup.check(now=4.0)
    sup._slots[0].proc.wait()
    with pytest.raises(WorkerKeepsDying, match="exited 3 times"):
        sup.check(now=5.0)
    sup.stop()


def test_exits_outside_the_window_are_forgiven(tmp_path: Path) -> None:
    sup = Supervisor(
        spawn=_dies, log_paths=[tmp_path / "w.log"], say=lambda _: None, max_restarts=1, window_s=10
    )
    for t in (0.0, 100.0, 200.0):
        sup._slots[0].proc.wait()
        sup.check(now=t)
        sup.check(now=t + 1.0)
    assert sup.restarts == 3
    sup.stop()
