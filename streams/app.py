"""The faust app: two thin agents that hand raw messages to a `Processor`.

No app exists at import time; `build_app` makes one per call, so tests and the
CLI build theirs with their own topics and processor.

Settings chosen for the embedded tansu broker (they work on Apache Kafka too):
- short session / heartbeat / rebalance timeouts: a restarted worker rejoins in
  seconds instead of waiting out a dead member;
- `topic_disable_leader`: no internal assignor topic to create;
- no tables (state lives in the database), no web server unless asked, and then
  bound to 127.0.0.1;
- acks=all and no transactions (tansu fails aiokafka's idempotent producer).

At least once: agents iterate a `noack()` stream and acknowledge an event only
after the processor returned and the broker acknowledged every publish, in offset
order per partition (`streams.window.AckWindow`), so faust commits an offset only
past fully handled messages. When retries run out the app crashes (the worker
exits 1) with that message unacknowledged, and it is delivered again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Any

import faust
from faust.types import EventT, StreamT
from mode import CrashingSupervisor

from schemas.messages import MessageMeta, Outgoing, Topics
from streams.errors import DeliveryError, RetryableError
from streams.handler import DEFAULT_RETRY, MessageHandler, RetryPolicy, Stage
from streams.ports import Processor
from streams.window import AckWindow

__all__ = ["build_app", "tansu_friendly_settings"]


def tansu_friendly_settings(*, session_timeout_s: float = 6.0, web_port: int | None = None) -> dict[str, Any]:
    """faust settings that behave on tansu; `web_port=None` disables the web server.

    tansu holds a JoinGroup for half the session timeout, so this timeout sets how
    long a worker takes to start; below ~3 s a stalled heartbeat thread gets evicted.
    """
    web: dict[str, Any] = (
        {"web_enabled": False}
        if web_port is None
        else {"web_enabled": True, "web_bind": "127.0.0.1", "web_host": "127.0.0.1", "web_port": web_port}
    )
    return {
        "broker_session_timeout": session_timeout_s,
        "broker_heartbeat_interval": min(1.0, session_timeout_s / 4),
        "broker_rebalance_timeout": max(10.0, session_timeout_s),
        "broker_commit_interval": 1.0,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "topic_disable_leader": True,
        "topic_allow_declare": False,
        "stream_recovery_delay": 0.0,
        "stream_wait_empty": False,
        "autodiscover": False,
        "store": "memory://",
        **web,
    }


def build_app(
    *,
    bootstrap: str,
    topics: Topics,
    app_id: str,
    processor: Processor,
    concurrency: int = 1,
    retryable: tuple[type[BaseException], ...] = (RetryableError,),
    retry: RetryPolicy = DEFAULT_RETRY,
    session_timeout_s: float = 6.0,
    web_port: int | None = None,
    epoch: str = "",
    **overrides: Any,
) -> faust.App:
    """A faust app whose agents consume `topics.received` and `topics.review_completed`.

    `app_id` is also the consumer group. `epoch` (the broker incarnation, see
    `infra.kafka.broker_epoch`) is stamped on every message's `MessageMeta`.
    `overrides` are passed to `faust.App` last.
    """
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        **{
            **tansu_friendly_settings(session_timeout_s=session_timeout_s, web_port=web_port),
            **overrides,
        },
    )
    handler = MessageHandler(
        processor=processor,
        publish=_publisher(app),
        deadletter_topic=topics.deadletter,
        retryable=retryable,
        retry=retry,
    )
    stages: tuple[tuple[Stage, str], ...] = (
        ("received", topics.received),
        ("review_completed", topics.review_completed),
    )
    for stage, topic_name in stages:
        topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
        # One faust actor per agent: concurrency comes from AckWindow, which keeps
        # acknowledgements in offset order (see streams.window for why).
        app.agent(
            topic,
            name=f"{app_id}.{stage}",
            concurrency=1,
            supervisor_strategy=CrashingSupervisor,
        )(_agent_fn(app, handler, stage, concurrency, epoch))
    return app


def _agent_fn(app: faust.App, handler: MessageHandler, stage: Stage, concurrency: int, epoch: str) -> Any:
    async def crash(error: BaseException) -> None:
        await app.crash(error)

    async def agent(stream: StreamT[bytes]) -> None:
        manual = stream.noack()  # type: ignore[attr-defined]  # missing from StreamT
        window = AckWindow(limit=concurrency, ack=manual.ack, on_fatal=crash)
        try:
            async for event in manual.events():
                if window.failure is not None:
                    raise window.failure
                work = partial(handler.handle, stage=stage, raw=_raw(event), meta=_meta(event, epoch))
                await window.submit(event, work)
            await window.drain()
        finally:
            window.cancel()

    agent.__name__ = agent.__qualname__ = f"on_{stage}"
    return agent


def _raw(event: EventT) -> bytes:
    value = event.message.value
    return value if isinstance(value, bytes) else bytes(value or b"")


def _meta(event: EventT, epoch: str) -> MessageMeta:
    message = event.message
    timestamp = message.timestamp
    return MessageMeta(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(timestamp * 1000) if timestamp else None,
        key=message.key if isinstance(message.key, bytes) else None,
        epoch=epoch,
    )


def _publisher(app: faust.App) -> Any:
    async def publish(messages: Sequence[Outgoing]) -> None:
        # Queue all, then wait for every acknowledgement: one round trip, not one per message.
        try:
            pending = [
                await app.producer.send(m.topic, m.key, m.value, partition=None, timestamp=None, headers=None)
                for m in messages
            ]
            await asyncio.gather(*pending)
        except Exception as exc:
            raise DeliveryError(f"publish failed: {exc!r}") from exc

    return publish
