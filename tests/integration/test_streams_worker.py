"""The faust worker against the real embedded broker, with a fake Processor.

Each test gets its own topic prefix and consumer group, so tests share one broker.
"""

from __future__ import annotations

import asyncio
import base64
import signal
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import faust
import httpx
import pytest
from aiokafka import TopicPartition

from infra.broker import EmbeddedBroker
from infra.kafka import ensure_topics, make_consumer, make_producer, topic_names
from schemas.events import DeadLetter, Envelope
from schemas.messages import MessageMeta, Outgoing, Topics
from streams.app import build_app
from streams.deadletter import dead_letter
from streams.errors import RetriesExhaustedError, RetryableError
from streams.handler import RetryPolicy
from streams.ports import Processor
from streams.transport import FETCH_MAX_WAIT_MS

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST_RETRY = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.05)
SESSION_S = 3.0  # tansu holds a join for half of it: workers start in ~2.5 s
# For `big`: over the producer's request size (set below the budget for the test), over the budget.
PRODUCER_LIMIT, BUDGET = 200_000, 500_000
BIG_SIZES = (300_000, 600_000)


class FakeProcessor(Processor):
    """Upper-cases documents; `boom` raises, `flaky` fails transiently `flaky_failures` times,
    `big` answers with two oversized messages (`BIG_SIZES`) and a small one."""

    def __init__(self, topics: Topics, *, flaky_failures: int = 1) -> None:
        self.topics = topics
        self.flaky_failures = flaky_failures
        self.seen: list[tuple[bytes, int]] = []
        self.emitted: list[int] = []
        self.dead: list[bytes] = []
        self.undeliverable: list[tuple[list[int], str]] = []

    async def on_received(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        self.seen.append((raw, meta.offset))
        if raw == b"boom":
            raise ValueError("cannot parse boom")
        if raw == b"flaky" and self.flaky_failures > 0:
            self.flaky_failures -= 1
            raise RetryableError("database unavailable")
        outbox_id = 1000 * meta.partition + meta.offset
        if raw == b"big":
            return [
                Outgoing(self.topics.decided, meta.key, b"x" * size, outbox_id=outbox_id + 100 * i)
                for i, size in enumerate((*BIG_SIZES, 3), start=1)
            ]
        return [Outgoing(self.topics.decided, meta.key, raw.upper(), outbox_id=outbox_id)]

    async def on_review_completed(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        return [Outgoing(self.topics.decided, meta.key, b"reviewed:" + raw)]

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        self.emitted.extend(outbox_ids)

    async def dead_letter(
        self, *, raw: bytes, meta: MessageMeta, reason: str, error_type: str
    ) -> list[Outgoing]:
        self.dead.append(raw)
        return [
            dead_letter(
                raw=raw,
                meta=meta,
                reason=reason,
                error_type=error_type,
                deadletter_topic=self.topics.deadletter,
            )
        ]

    async def mark_undeliverable(self, *, outbox_ids: list[int], reason: str) -> None:
        self.undeliverable.append((outbox_ids, reason))


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
async def topics(bootstrap: str) -> Topics:
    names = topic_names(f"t{uuid.uuid4().hex[:12]}")
    await ensure_topics(bootstrap=bootstrap, names=names.all(), partitions=2)
    return names


def _app(bootstrap: str, topics: Topics, app_id: str, processor: Processor, **kw: Any) -> faust.App:
    return build_app(
        bootstrap=bootstrap,
        topics=topics,
        app_id=app_id,
        processor=processor,
        concurrency=2,
        retry=FAST_RETRY,
        session_timeout_s=SESSION_S,
        **kw,
    )


@asynccontextmanager
async def _running(app: faust.App) -> AsyncIterator[faust.App]:
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = make_producer(bootstrap=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"doc-1")
    finally:
        await producer.stop()


async def _collect(bootstrap: str, *names: str, count: int, timeout_s: float = 30.0) -> list:
    consumer = make_consumer(*names, bootstrap=bootstrap, group_id=None)
    await consumer.start()
    got: list = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(got) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                got.extend(messages)
    finally:
        await consumer.stop()
    return got


async def _committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = make_consumer(bootstrap=bootstrap, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


async def test_worker_emits_dead_letters_and_keeps_going(bootstrap: str, topics: Topics) -> None:
    processor = FakeProcessor(topics)
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    await _produce(bootstrap, topics.received, [b"a", b"boom", b"flaky", b"c"])
    await _produce(bootstrap, topics.review_completed, [b"r1"])

    async with _running(_app(bootstrap, topics, app_id, processor)):
        out = await _collect(bootstrap, topics.decided, topics.deadletter, count=5)

    decided = sorted(m.value for m in out if m.topic == topics.decided)
    assert decided == [b"A", b"C", b"FLAKY", b"reviewed:r1"]
    [dead] = [m for m in out if m.topic == topics.deadletter]
    letter = Envelope[DeadLetter].model_validate_json(dead.value)
    assert letter.type == "document.deadletter"
    assert base64.b64decode(letter.payload.original_base64) == b"boom"
    assert letter.payload.error_type == "ValueError"
    assert "cannot parse boom" in letter.payload.reason
    assert (letter.payload.topic, letter.payload.offset) == (topics.received, 1)
    assert dead.key == b"doc-1"
    assert processor.dead == [b"boom"]  # recorded through the processor, not only published

    partition = letter.payload.partition
    assert partition is not None
    # Only processed messages are marked emitted; the transient failure was retried once.
    assert sorted(processor.emitted) == [1000 * partition + o for o in (0, 2, 3)]
    assert [raw for raw, _ in processor.seen].count(b"flaky") == 2
    # Every message was handled, so the group's offset is past the last one.
    tp = TopicPartition(topics.received, partition)
    assert await _committed(bootstrap, app_id, tp) == 4


async def test_the_worker_consumer_fetches_with_the_short_wait(bootstrap: str, topics: Topics) -> None:
    """faust builds its consumer with a 1.5 s fetch wait and tansu answers a fetch only
    when the wait ends, which held every record on a quiet partition that long
    (bench/fetch_wait.py). The consumer the running app uses carries the shorter wait
    (streams/transport.py reaches into faust and aiokafka: this fails if they move)."""
    processor = FakeProcessor(topics)
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    async with _running(_app(bootstrap, topics, app_id, processor)) as app:
        consumer = app.consumer._thread._ensure_consumer()  # type: ignore[attr-defined]
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS == 100
        await _produce(bootstrap, topics.received, [b"a"])
        [out] = await _collect(bootstrap, topics.decided, count=1)
    assert out.value == b"A"


async def test_messages_that_can_never_be_sent_are_recorded_and_the_worker_moves_on(
    bootstrap: str, topics: Topics
) -> None:
    processor = FakeProcessor(topics)
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    await _produce(bootstrap, topics.received, [b"a", b"big", b"c"])
    # The producer's own limit below the budget: its refusal (aiokafka's
    # MessageSizeTooLargeError, wrapped by faust) must be permanent too.
    app = _app(
        bootstrap,
        topics,
        app_id,
        processor,
        max_message_bytes=BUDGET,
        producer_max_request_size=PRODUCER_LIMIT,
    )
    async with _running(app):
        await _collect(bootstrap, topics.decided, count=3)
    out = await _collect(bootstrap, topics.decided, count=4, timeout_s=1.0)  # nothing more came

    assert sorted(m.value for m in out) == [b"A", b"C", b"xxx"]
    [(failed, reason)] = processor.undeliverable
    partition = out[0].partition
    big = 1000 * partition + 1
    assert sorted(failed) == [big + 100, big + 200]
    assert "refused by the producer" in reason and "MessageSizeTooLargeError" in reason
    assert "600005 bytes, over the budget of 500000" in reason  # value plus the key `doc-1`
    assert big + 300 in processor.emitted and big + 100 not in processor.emitted
    tp = TopicPartition(topics.received, partition)
    assert await _committed(bootstrap, app_id, tp) == 3


async def test_exhausted_retries_crash_the_worker_and_the_message_comes_again(
    bootstrap: str, topics: Topics
) -> None:
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    await _produce(bootstrap, topics.received, [b"a", b"flaky", b"c"])

    stuck = FakeProcessor(topics, flaky_failures=100)
    async with _running(_app(bootstrap, topics, app_id, stuck)) as app:
        deadline = time.monotonic() + 30
        # mode exposes the crash as an attribute only, not as an awaitable.
        while app.crash_reason is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert isinstance(app.crash_reason, RetriesExhaustedError)
    assert [raw for raw, _ in stuck.seen].count(b"flaky") == FAST_RETRY.attempts

    healthy = FakeProcessor(topics, flaky_failures=0)
    async with _running(_app(bootstrap, topics, app_id, healthy)):
        out = await _collect(bootstrap, topics.decided, count=3)
        out += await _collect(bootstrap, topics.decided, count=4, timeout_s=1.0)
    # `c` may have been published before the crash; it was held unacknowledged
    # behind `flaky`, so it is delivered again too (at least once, never lost).
    assert {m.value for m in out} == {b"A", b"C", b"FLAKY"}
    redelivered = [raw for raw, _ in healthy.seen]
    assert redelivered == [b"flaky", b"c"]  # `a` was committed before the crash


async def test_outage_pauses_the_partition_and_healthz_says_degraded_until_it_passes(
    bootstrap: str, topics: Topics
) -> None:
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    processor = FakeProcessor(topics, flaky_failures=10**9)  # the "database" is down
    port = _free_port()
    app = build_app(
        bootstrap=bootstrap,
        topics=topics,
        app_id=app_id,
        processor=processor,
        concurrency=2,
        retry=RetryPolicy(give_up_after_s=120, initial_s=0.05, max_s=0.2),
        session_timeout_s=SESSION_S,
        web_port=port,
    )
    await _produce(bootstrap, topics.received, [b"flaky", b"after"])
    async with _running(app), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as web:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and [r for r, _ in processor.seen].count(b"flaky") < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        degraded = await web.get("/healthz")
        assert degraded.status_code == 503
        body = degraded.json()
        assert body["status"] == "degraded" and body["stalled_messages"] >= 1
        assert "database unavailable" in body["last_error"]
        assert app.crash_reason is None  # waiting, not dead
        processor.flaky_failures = 0  # the outage ends
        out = await _collect(bootstrap, topics.decided, count=2)
        assert sorted(m.value for m in out) == [b"AFTER", b"FLAKY"]
        healthy = await web.get("/healthz")
        assert healthy.status_code == 200 and healthy.json()["recovered_total"] >= 1


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


WORKER_SCRIPT = textwrap.dedent(
    """
    import sys
    from infra.kafka import topic_names
    from streams.app import build_app
    from streams.worker import run_worker
    from tests.integration.test_streams_worker import FakeProcessor

    bootstrap, prefix = sys.argv[1], sys.argv[2]
    topics = topic_names(prefix)
    app = build_app(bootstrap=bootstrap, topics=topics, app_id=prefix,
                    processor=FakeProcessor(topics), session_timeout_s=3.0)
    sys.exit(run_worker(app=app, loglevel="warning"))
    """
)


async def test_run_worker_stops_cleanly_on_sigterm(bootstrap: str, topics: Topics) -> None:
    prefix = topics.received.removesuffix(".documents.received")
    await _produce(bootstrap, topics.received, [b"x"])
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER_SCRIPT, bootstrap, prefix, cwd=REPO_ROOT
    )
    try:
        [out] = await _collect(bootstrap, topics.decided, count=1)
        assert out.value == b"X"
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 30) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    tp = TopicPartition(topics.received, out.partition)
    assert await _committed(bootstrap, prefix, tp) == 1
