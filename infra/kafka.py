"""aiokafka helpers: topic names, idempotent topic creation, client factories.

Every client here works against any Kafka and against the embedded tansu broker,
which is why the producer never asks for idempotence or transactions (tansu
rejects aiokafka's idempotent producer). Duplicates are handled downstream by
idempotent effects, not by the broker.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from infra.errors import TopicCreationError
from schemas.messages import Topics

__all__ = [
    "TopicCreationError",
    "Topics",
    "ensure_topics",
    "make_consumer",
    "make_producer",
    "topic_names",
]


def topic_names(prefix: str) -> Topics:
    """`<prefix>.documents.received` and friends; a fresh prefix isolates a test."""
    return Topics.with_prefix(prefix)


async def ensure_topics(
    *,
    bootstrap: str,
    names: list[str],
    partitions: int,
    replication_factor: int = 1,
    timeout_ms: int = 10_000,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Existing topics are left alone (their partition count is not changed).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(n, partitions, replication_factor) for n in missing],
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
