"""aiokafka helpers: topic names, idempotent topic creation, client factories.

Every client here works against any Kafka and against the embedded tansu broker,
which is why the producer never asks for idempotence or transactions (tansu
rejects aiokafka's idempotent producer). Duplicates are handled downstream by
idempotent effects, not by the broker.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from infra.errors import EpochMarkerError, TopicCreationError
from schemas.messages import Topics

__all__ = [
    "EpochMarkerError",
    "TopicCreationError",
    "Topics",
    "broker_epoch",
    "ensure_topics",
    "epoch_topic",
    "make_consumer",
    "make_producer",
    "read_epoch",
    "topic_names",
]


def topic_names(prefix: str) -> Topics:
    """`<prefix>.documents.received` and friends; a fresh prefix isolates a test."""
    return Topics.with_prefix(prefix)


def epoch_topic(prefix: str) -> str:
    """The single-partition topic whose first message names the broker's incarnation."""
    return f"{prefix}.epoch"


async def read_epoch(*, bootstrap: str, topic: str, wait_s: float = 1.5) -> str | None:
    """The first marker in `topic`, or None when the topic is empty or missing.

    Reads partition 0 from offset 0 with a bounded fetch: tansu reports end offsets
    wrongly, so "is it empty?" is answered by trying to read, never by asking.
    """
    consumer = make_consumer(bootstrap=bootstrap, group_id=None, client_id="autoclerk-epoch")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        deadline = time.monotonic() + wait_s
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                return None
            batch = await consumer.getmany(tp, timeout_ms=min(remaining_ms, 500), max_records=1)
            for record in batch.get(tp, []):
                if record.offset == 0 and record.value:
                    return bytes(record.value).decode()
                # A marker topic whose offset 0 is gone (retention) is not our marker.
                return None
    finally:
        await consumer.stop()


async def broker_epoch(*, bootstrap: str, topic: str) -> str:
    """The broker's epoch: the first marker in `topic`, written now if there is none.

    Concurrent starters may each write a marker; all of them read offset 0 back,
    so they agree on the first one. The topic must exist (see `ensure_topics`).
    """
    found = await read_epoch(bootstrap=bootstrap, topic=topic)
    if found is not None:
        return found
    producer = make_producer(bootstrap=bootstrap, client_id="autoclerk-epoch", linger_ms=0)
    await producer.start()
    try:
        await producer.send_and_wait(topic, uuid.uuid4().hex.encode(), partition=0)
    finally:
        await producer.stop()
    for _ in range(10):  # the marker is there now; give a slow broker a few tries
        found = await read_epoch(bootstrap=bootstrap, topic=topic, wait_s=3.0)
        if found is not None:
            return found
        await asyncio.sleep(0.2)
    raise EpochMarkerError(f"wrote an epoch marker to {topic!r} but cannot read offset 0 back")


async def ensure_topics(
    *,
    bootstrap: str,
    names: list[str],
    partitions: int,
    replication_factor: int = 1,
    timeout_ms: int = 10_000,
    configs: dict[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Existing topics are left alone (their partition count is not changed).
    `configs` are topic configs for the created ones (e.g. `retention.ms`).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(n, partitions, replication_factor, topic_configs=configs or {}) for n in missing],
            timeout_ms=timeout_ms,
        )
    finally:
        await admin.close()
    created: list[str] = []
    for topic, code, message in _topic_errors(response):
        if code == 0:
            created.append(topic)
        elif for_code(code) is not TopicAlreadyExistsError:  # a concurrent creator won
            raise TopicCreationError(f"cannot create topic {topic!r}: [{code}] {message}")
    return created


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    # CreateTopicsResponse v0 has (topic, code); v1+ add an error message.
    rows = []
    for entry in response.topic_errors:
        topic, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        rows.append((topic, code, message))
    return rows


def make_producer(
    *,
    bootstrap: str,
    client_id: str = "autoclerk",
    linger_ms: int = 5,
    **overrides: Any,
) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas; not started.

    `enable_idempotence` stays off: tansu fails it, and our effects are idempotent anyway.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": False,
        "linger_ms": linger_ms,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    *topics: str,
    bootstrap: str,
    group_id: str | None,
    client_id: str = "autoclerk",
    auto_offset_reset: str = "earliest",
    **overrides: Any,
) -> AIOKafkaConsumer:
    """A consumer with manual commits (commit after the effect, for at-least-once); not started.

    Short session and heartbeat timeouts so a dead member is noticed in seconds.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "group_id": group_id,
        "auto_offset_reset": auto_offset_reset,
        "enable_auto_commit": False,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 1_000,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)
