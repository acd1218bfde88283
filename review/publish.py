"""Where completed reviews go: the `review.completed` topic, through a small port.

The UI publishes and the worker decides; a fake publisher in tests records messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaProducer

from infra.kafka import make_producer


@dataclass(frozen=True)
class Delivery:
    """Where the broker put a message (its acknowledgement)."""

    partition: int
    offset: int


class Publisher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, *, topic: str, key: bytes, value: bytes) -> Delivery | None:
        """Return only once the broker has the message (acks=all); where it landed, when
        the transport knows (a dead-letter retry records it to link a repeated failure)."""
        ...


class KafkaPublisher:
    def __init__(self, *, bootstrap: str, client_id: str = "autoclerk-review") -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # linger 0: a reviewer waits on each send, there is nothing to batch with.
        self._producer = make_producer(bootstrap=self._bootstrap, client_id=self._client_id, linger_ms=0)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, *, topic: str, key: bytes, value: bytes) -> Delivery:
        if self._producer is None:
            raise RuntimeError("KafkaPublisher.publish before start()")
        sent = await self._producer.send_and_wait(topic, value=value, key=key)
        return Delivery(partition=sent.partition, offset=sent.offset)
