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

Size: every outgoing message has a budget (`max_message_bytes`, key + value) that the
service builds to; the publisher refuses anything over it, and what the producer or
broker refuses as too large or invalid, before sending it, as `UndeliverableError`
(never retried: it would fail forever and block the partition). The producer's
request size is set above the budget, and the consumer's fetch size to at least the
largest input we accept, so an accepted input always fits one fetch.

At least once: agents iterate a `noack()` stream and acknowledge an event only
after the processor returned and the broker acknowledged every publish, in offset
order per partition (`streams.window.AckWindow`), so faust commits an offset only
past fully handled messages. A transient failure (database or broker down) is
retried with backoff for `RetryPolicy.give_up_after_s` (minutes by default) while
later messages of its partition are held back (`streams.health`) and `/healthz`
answers 503 "degraded"; only when that runs
out does the app crash (the worker exits 1) with the message unacknowledged, so it
is delivered again and `autoclerk run` restarts the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from functools import partial
from typing import Any

import faust
from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from faust.types import EventT, StreamT
from mode import CrashingSupervisor

from agents.budget import DEFAULT_MAX_MESSAGE_BYTES, size_of
from schemas.messages import MessageMeta, Outgoing, Topics
from streams.errors import DeliveryError, RetryableError, UndeliverableError
from streams.handler import DEFAULT_RETRY, MessageHandler, RetryPolicy, Stage
from streams.health import EdgeHealth
from streams.ports import Processor
from streams.transport import App
from streams.window import AckWindow

__all__ = ["build_app", "publisher", "tansu_friendly_settings"]

log = logging.getLogger(__name__)

# Refused by the producer before sending (over its request size) or by the broker
# (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, CORRUPT_MESSAGE): the same message is
# refused again on every try. aiokafka reports INVALID_RECORD (87) only as
# UnknownError, which stays retryable: it cannot be told apart from other failures.
_NEVER_ACCEPTED: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,
)
# Room for the record batch framing around key and value in the producer's request.
_FRAMING_BYTES = 64 * 1024
_MIN_REQUEST_BYTES = 1_048_576  # aiokafka's default max_request_size


def tansu_friendly_settings(
    *, session_timeout_s: float = 6.0, web_port: int | None = None, web_host: str = "127.0.0.1"
) -> dict[str, Any]:
    """faust settings that behave on tansu; `web_port=None` disables the web server,
    which binds `web_host` (127.0.0.1 unless a container must be scraped from outside).

    tansu holds a JoinGroup for half the session timeout, so this timeout sets how
    long a worker takes to start; below ~3 s a stalled heartbeat thread gets evicted.
    """
    web: dict[str, Any] = (
        {"web_enabled": False}
        if web_port is None
        else {"web_enabled": True, "web_bind": web_host, "web_host": web_host, "web_port": web_port}
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
    web_host: str = "127.0.0.1",
    health: EdgeHealth | None = None,
    epoch: str = "",
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_event_bytes: int = 5_000_000,
    **overrides: Any,
) -> faust.App:
    """A faust app whose agents consume `topics.received` and `topics.review_completed`.

    `app_id` is also the consumer group. `max_message_bytes` bounds every outgoing
    message; `max_event_bytes` is the largest input the processor accepts (larger ones
    are dead-lettered, so they must still be fetched). With `web_port`, `GET /healthz`
    on 127.0.0.1 reports `health` (200 ok, 503 degraded). `epoch` is stamped on every
    consumed message's `MessageMeta` (the broker incarnation). `overrides` are passed
    to `faust.App` last.
    """
    sizes = {
        "producer_max_request_size": max(_MIN_REQUEST_BYTES, max_message_bytes + _FRAMING_BYTES),
        # Per partition. Kafka (fetch v3+) and tansu return a larger first record anyway
        # (checked in tests/faults/test_oversize.py); this makes it hold on any broker.
        "consumer_max_fetch_size": max(1024**2, max_event_bytes + _FRAMING_BYTES),
    }
    app = App(
        app_id,
        broker=f"kafka://{bootstrap}",
        **{
            **tansu_friendly_settings(
                session_timeout_s=session_timeout_s, web_port=web_port, web_host=web_host
            ),
            **sizes,
            **overrides,
        },
    )
    health = health or EdgeHealth()
    handler = MessageHandler(
        processor=processor,
        publish=publisher(app, max_bytes=max_message_bytes),
        deadletter_topic=topics.deadletter,
        retryable=retryable,
        retry=retry,
        health=health,
        max_message_bytes=max_message_bytes,
    )
    if web_port is not None:
        _health_page(app, health)
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


def _health_page(app: faust.App, health: EdgeHealth) -> None:
    async def healthz(self: Any, request: Any) -> Any:
        snap = health.snapshot()
        return self.json(snap, status=200 if snap["status"] == "ok" else 503)

    app.page("/healthz")(healthz)


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


def publisher(app: faust.App, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Any:
    """Publish through the app's producer: every message, then every acknowledgement.
    Messages over `max_bytes`, or that the producer or broker refuse for good, raise
    `UndeliverableError` after the others were sent."""

    async def publish(messages: Sequence[Outgoing]) -> None:
        refused = [(m, f"{size_of(m)} bytes, over the budget of {max_bytes}") for m in messages]
        refused = [(m, why) for m, why in refused if size_of(m) > max_bytes]
        # Queue all, then wait for every acknowledgement: one round trip, not one per message.
        pending: list[tuple[Outgoing, Awaitable[Any]]] = []
        try:
            for m in messages:
                if size_of(m) <= max_bytes:
                    try:
                        sent = await app.producer.send(
                            m.topic, m.key, m.value, partition=None, timestamp=None, headers=None
                        )
                    except Exception as exc:
                        if not never_accepted(exc):
                            raise
                        refused.append((m, f"refused by the producer: {exc!r}"))
                        continue
                    pending.append((m, sent))
            results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        except Exception as exc:
            raise DeliveryError(f"publish failed: {exc!r}") from exc
        transient = []
        for (m, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                if never_accepted(result):
                    refused.append((m, f"refused by the broker: {result!r}"))
                else:
                    transient.append(result)
        if transient:  # retried whole: a duplicate of what did go out is harmless downstream
            raise DeliveryError(f"publish failed: {transient[0]!r}") from transient[0]
        if refused:
            reason = "; ".join(f"{m.topic} message, {why}" for m, why in refused)
            raise UndeliverableError(reason, messages=[m for m, _ in refused])

    return publish


def never_accepted(exc: BaseException) -> bool:
    """Whether the error, or one it wraps (faust wraps the producer's), is a permanent refusal."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, _NEVER_ACCEPTED):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
