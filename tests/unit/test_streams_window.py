"""AckWindow: concurrent handlers, acknowledgements strictly in offset order."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from streams.window import AckWindow


def event(offset: int, partition: int = 0) -> Any:
    return SimpleNamespace(message=SimpleNamespace(tp=("t", partition), offset=offset))


class Recorder:
    def __init__(self) -> None:
        self.acked: list[tuple[int, int]] = []
        self.fatal: list[BaseException] = []

    async def ack(self, e: Any) -> None:
        self.acked.append((e.message.tp[1], e.message.offset))

    async def on_fatal(self, error: BaseException) -> None:
        self.fatal.append(error)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_later_offsets_wait_for_earlier_ones() -> None:
    rec = Recorder()
    window = AckWindow(limit=4, ack=rec.ack, on_fatal=rec.on_fatal)
    gates = [asyncio.Event() for _ in range(3)]
    for i, gate in enumerate(gates):
        await window.submit(event(i), gate.wait)
    gates[2].set()
    gates[1].set()
    await settle()
    assert rec.acked == []  # offset 0 is still running
    gates[0].set()
    await window.drain()
    assert rec.acked == [(0, 0), (0, 1), (0, 2)]


async def test_partitions_do_not_wait_for_each_other() -> None:
    rec = Recorder()
    window = AckWindow(limit=4, ack=rec.ack, on_fatal=rec.on_fatal)
    stuck = asyncio.Event()
    await window.submit(event(0, partition=0), stuck.wait)
    await window.submit(event(0, partition=1), lambda: asyncio.sleep(0))
    await settle()
    assert rec.acked == [(1, 0)]
    stuck.set()
    await window.drain()
    assert rec.acked == [(1, 0), (0, 0)]


async def test_a_failure_blocks_its_partition_and_is_reported_once() -> None:
    rec = Recorder()
    window = AckWindow(limit=4, ack=rec.ack, on_fatal=rec.on_fatal)

    async def fail() -> None:
        raise RuntimeError("gave up")

    async def ok() -> None:
        return None

    await window.submit(event(0), ok)
    await window.submit(event(1), fail)
    await window.submit(event(2), ok)
    await window.submit(event(3), fail)
    await window.drain()
    await settle()
    assert rec.acked == [(0, 0)]
    assert [str(e) for e in rec.fatal] == ["gave up"]
    assert isinstance(window.failure, RuntimeError)


async def test_limit_bounds_work_in_flight() -> None:
    rec = Recorder()
    window = AckWindow(limit=2, ack=rec.ack, on_fatal=rec.on_fatal)
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1

    for i in range(10):
        await window.submit(event(i), work)
    await window.drain()
    assert peak == 2
    assert [o for _, o in rec.acked] == list(range(10))
