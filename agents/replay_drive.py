"""Driving a replay: the store port, the rate limit and the loop over pending items.

`drive` runs pending items in selection order, a bounded number in flight, at most
`rate` starts a second, and checks the stop event before each document starts: a
SIGINT lets the documents in flight finish and leaves the rest pending for a resume.
An error a mode's `one` does not absorb (a crash, the database gone) cancels what is
in flight and propagates; those documents' effects did not commit, so they stay pending.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.messages import Outgoing
from schemas.replay import LiveChange, ReplayOptions, ReplaySelection, ReplayTarget

Progress = Callable[[str], None]
"""Called with each finished item's result."""


class ReplayStore(Protocol):
    """Persistence a replay needs (`infra.replay_store.SqlReplayStore`)."""

    async def ledger_offsets(
        self, *, topic: str, partition: int, epoch: str | None
    ) -> tuple[int, int] | None:
        """The lowest and highest offset the ingest ledger has there, or None."""

    async def select(self, *, selection: ReplaySelection) -> list[str]:
        """Document ids matching every criterion, oldest first."""

    async def create(
        self, *, replay_id: str, mode: str, selection: ReplaySelection, options: ReplayOptions, ids: list[str]
    ) -> None:
        """The replay row and one pending item per id; nothing if the id exists."""

    async def replay(self, *, replay_id: str) -> tuple[str, ReplaySelection, ReplayOptions, str] | None:
        """(mode, selection, options, status) of an existing replay."""

    async def pending(self, *, replay_id: str, after_seq: int, limit: int) -> list[tuple[int, ReplayTarget]]:
        """Items not yet done, with seq > after_seq, in order, each with its document now."""

    async def counts(self, *, replay_id: str) -> tuple[int, int]:
        """(items, done)."""

    async def finish(self, *, replay_id: str, document_id: str, result: str, detail: dict[str, Any]) -> bool:
        """Mark the item done with no other effect; False if it was done already."""

    async def apply(self, *, change: LiveChange) -> list[Outgoing] | None:
        """Commit `change` and mark the item done, in one transaction; None if it was
        done already; [] with the item marked `skipped:changed` when the document's
        outcome is no longer the one the run started from."""

    async def set_status(self, *, replay_id: str, status: str) -> None: ...

    async def unemitted(self, *, prefix: str) -> list[Outgoing]: ...

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None: ...

    async def items(self, *, replay_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
        """(document id, result, detail) of every item, in selection order."""


class RateLimit:
    """At most `per_s` starts a second, spaced evenly. Hand-written: a dozen lines
    against one more dependency (aiolimiter) for a single sequential caller."""

    def __init__(self, per_s: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._gap = 1.0 / per_s if per_s else 0.0
        self._clock = clock
        self._next = 0.0

    async def wait(self) -> None:
        if not self._gap:
            return
        now = self._clock()
        delay = self._next - now
        self._next = max(now, self._next) + self._gap
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class DriveOptions:
    rate: float | None = None
    concurrency: int = 8
    batch: int = 64


async def drive(
    *,
    store: ReplayStore,
    replay_id: str,
    one: Callable[[ReplayTarget], Awaitable[str]],
    options: DriveOptions,
    stop: asyncio.Event,
    progress: Progress,
) -> bool:
    """Run `one` over every pending item; True when none is left (not stopped)."""
    limit, slots = RateLimit(options.rate), asyncio.Semaphore(options.concurrency)
    after, running = 0, set[asyncio.Task[None]]()

    async def run(target: ReplayTarget) -> None:
        try:
            progress(await one(target))
        finally:
            slots.release()

    try:
        while not stop.is_set():
            batch = await store.pending(replay_id=replay_id, after_seq=after, limit=options.batch)
            if not batch:
                break
            for seq, target in batch:
                await slots.acquire()
                await limit.wait()
                if stop.is_set():
                    slots.release()
                    break
                after = seq
                running.add(asyncio.create_task(run(target)))
                for done in [t for t in running if t.done()]:
                    running.discard(done)
                    done.result()  # a crash (an error `one` does not absorb) ends the replay
        await asyncio.gather(*running)
    except BaseException:
        for t in running:
            t.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        raise
    return not stop.is_set()
