"""Child processes that do not outlive us: the kernel signals them when we die."""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to send `sig` to the child when its parent dies.

    The kernel ties the request to the *thread* that forked, so it is only safe from
    the main thread; elsewhere (and off Linux) this returns None and the caller's
    normal shutdown path must stop the child.
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None

    def preexec() -> None:  # pragma: no cover - runs in the forked child
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return preexec
