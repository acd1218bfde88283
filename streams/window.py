"""Bounded concurrency with in-order acknowledgement.

faust-streaming 0.15's commit bookkeeping (`Consumer._new_offset`) treats
"committed offset + 1" as contiguous, so when offset N is still in flight and
N+1 is acknowledged it commits N+2 and a crash then loses message N. Running
faust agents with `concurrency > 1` acknowledges out of order and hits exactly
that. So each agent runs one faust actor, processes up to `limit` messages at
once here, and acknowledges them strictly in offset order per partition: an
acknowledgement never has a hole below it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from faust.types import TP, EventT

Ack = Callable[[EventT], Awaitable[Any]]
OnFatal = Callable[[BaseException], Awaitable[None]]


class AckWindow:
    """Runs handlers concurrently; acknowledges each partition's events in order.

    A handler that raises stops acknowledgement for its partition at that event
    (so the commit cannot pass it) and reports the error through `on_fatal`.
    """

    def __init__(self, *, limit: int, ack: Ack, on_fatal: OnFatal) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self._slots = asyncio.Semaphore(limit)
        self._ack = ack
        self._on_fatal = on_fatal
        self._pending: dict[TP, deque[tuple[EventT, asyncio.Task[Any]]]] = {}
        self._blocked: set[TP] = set()
        self._acks: set[asyncio.Task[Any]] = set()
        self.failure: BaseException | None = None

    async def submit(self, event: EventT, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Wait for a free slot, then run `work()` for `event` in the background."""
        await self._slots.acquire()
        tp = event.message.tp
        task = asyncio.ensure_future(work())
        self._pending.setdefault(tp, deque()).append((event, task))
        task.add_done_callback(lambda _t: self._on_done(tp))

    async def drain(self) -> None:
        """Wait for every started handler and every acknowledgement."""
        tasks = [task for queue in self._pending.values() for _, task in queue]
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*self._acks, return_exceptions=True)

    def cancel(self) -> None:
        """Stop in-flight handlers; their events stay unacknowledged and come again."""
        for queue in self._pending.values():
            for _, task in queue:
                task.cancel()

    def _on_done(self, tp: TP) -> None:
        self._slots.release()
        queue = self._pending[tp]
        while queue and tp not in self._blocked and queue[0][1].done():
            event, task = queue[0]
            if task.cancelled():
                self._blocked.add(tp)
                break
            error = task.exception()
            if error is not None:
                self._blocked.add(tp)
                self._fail(error)
                break
            queue.popleft()
            # Tasks run in creation order, so acknowledgements keep offset order.
            ack = asyncio.ensure_future(self._ack(event))
            self._acks.add(ack)
            ack.add_done_callback(self._acks.discard)

    def _fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
            fatal = asyncio.ensure_future(self._on_fatal(error))
            self._acks.add(fatal)
            fatal.add_done_callback(self._acks.discard)
