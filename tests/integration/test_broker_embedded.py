"""The embedded tansu broker: starts, answers Kafka, creates topics, leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from infra.broker import EmbeddedBroker
from infra.errors import BrokerError, BrokerNotReadyError
from infra.kafka import ensure_topics, make_consumer, make_producer, topic_names


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes once reaped.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _wait_gone(pid: int, *, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_sync_context_starts_and_stops_the_process() -> None:
    with EmbeddedBroker() as broker:
        pid = broker.pid
        assert pid is not None and _alive(pid)
        host, port = broker.bootstrap.split(":")
        assert host == "127.0.0.1" and int(port) > 0
    assert not broker.running
    assert _wait_gone(pid)
    with pytest.raises(BrokerError):
        _ = broker.bootstrap


async def test_async_context_creates_topics_idempotently() -> None:
    topics = topic_names(f"t{uuid.uuid4().hex[:10]}")
    async with EmbeddedBroker() as broker:
        created = await ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=3)
        assert sorted(created) == sorted(topics.all())
        again = await ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=3)
        assert again == []

        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics([topics.received])
        finally:
            await admin.close()
        assert len(described[0]["partitions"]) == 3
        pid = broker.pid
    assert pid is not None and _wait_gone(pid)


async def test_broker_round_trips_a_message() -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.roundtrip"
    async with EmbeddedBroker() as broker:
        await broker.create_topics(names=[topic], partitions=1)
        producer = make_producer(bootstrap=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"k")
        finally:
            await producer.stop()
        consumer = make_consumer(topic, bootstrap=broker.bootstrap, group_id=f"g-{uuid.uuid4()}")
        await consumer.start()
        try:
            message = await consumer.getone()
            await consumer.commit()
        finally:
            await consumer.stop()
    assert (message.key, message.value, message.offset) == (b"k", b"hello", 0)


def test_binary_that_exits_gives_a_clear_error() -> None:
    broker = EmbeddedBroker(binary="/bin/false", startup_timeout_s=5)
    with pytest.raises(BrokerNotReadyError, match="exited with code 1"):
        broker.start()
    assert not broker.running


def test_missing_binary_is_a_broker_error() -> None:
    with pytest.raises(BrokerError, match="cannot start tansu"):
        EmbeddedBroker(binary="/nonexistent/tansu").start()


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_broker_dies_with_a_killed_parent() -> None:
    # SIGKILL skips atexit: only the kernel's parent-death signal can clean up.
    script = textwrap.dedent(
        """
        import sys, time
        from infra.broker import EmbeddedBroker
        broker = EmbeddedBroker().start()
        print(broker.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert parent.stdout is not None
        broker_pid = int(parent.stdout.readline())
        assert _alive(broker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait_gone(broker_pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
