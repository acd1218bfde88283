"""One message through the processor and out to the broker, transport-neutral.

Kept apart from faust so the failure policy (dead letter, retry, give up) is
tested with plain fakes and reused by replay. The policy, per message:

- the processor returns outgoing messages          -> publish them, then mark them emitted
- some can never be sent (UndeliverableError)      -> the rest are published; those are marked
  failed in the outbox with the reason, logged at ERROR, and the input is acknowledged
- the processor raises a retryable error            -> retry with exponential backoff
- the processor raises anything else                -> record a dead letter (database
  and topic) through the processor, so every dead letter is in `dead_letters`
- retries run out (processing or publishing)        -> RetriesExhaustedError: the caller
  stops without acknowledging, so the broker delivers the message again

Retries are bounded by time, not by count: a database restart or a broker failover
takes tens of seconds, and a worker that gives up after three seconds turns every
short outage into a crash loop. While a message waits, `EdgeHealth` reports it and
the app pauses its partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import Literal, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from agents.budget import DEFAULT_MAX_MESSAGE_BYTES
from agents.telemetry import document_span, stage
from schemas.messages import MessageMeta, Outgoing
from streams.deadletter import dead_letter
from streams.errors import RetriesExhaustedError, RetryableError, UndeliverableError
from streams.health import EdgeHealth
from streams.ports import Processor

log = logging.getLogger(__name__)

Stage = Literal["received", "review_completed"]
Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
"""Sends every message and returns once the broker acknowledged all of them; raises
`streams.errors.UndeliverableError` for those that can never be sent once every other
one was acknowledged, `streams.errors.DeliveryError` for anything else."""

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, from `initial_s` up to `max_s` between tries,
    for at most `give_up_after_s` in all (and `attempts` tries, when set)."""

    give_up_after_s: float = 300.0
    initial_s: float = 0.2
    max_s: float = 10.0
    attempts: int | None = None


DEFAULT_RETRY = RetryPolicy()


def _emit() -> AbstractContextManager[None]:
    return stage("emit")  # `stage` is also handle()'s parameter name


class MessageHandler:
    """Applies the per-message failure policy around a `Processor`."""

    def __init__(
        self,
        *,
        processor: Processor,
        publish: Publish,
        deadletter_topic: str,
        retryable: tuple[type[BaseException], ...] = (RetryableError,),
        retry: RetryPolicy = DEFAULT_RETRY,
        health: EdgeHealth | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._max_message_bytes = max_message_bytes
        self._processor = processor
        self._publish = publish
        self._deadletter_topic = deadletter_topic
        self._retryable: tuple[type[BaseException], ...] = (RetryableError, *retryable)
        self._retry = retry
        self.health = health or EdgeHealth()

    async def handle(self, *, stage: Stage, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        """Process, publish and mark emitted; returns what was published."""
        await self.health.wait_until_clear(meta)
        where: dict[str, str | int] = {
            "messaging.destination": meta.topic,
            "messaging.partition": meta.partition,
            "messaging.offset": meta.offset,
        }
        with document_span(f"autoclerk.{stage}", **where):
            outgoing = await self._process(stage=stage, raw=raw, meta=meta)
            with _emit():
                if outgoing:
                    try:
                        await self._retrying(lambda: self._publish(outgoing), meta=meta)
                    except UndeliverableError as exc:
                        outgoing = await self._undeliverable(outgoing, exc, meta=meta)
                outbox_ids = [o.outbox_id for o in outgoing if o.outbox_id is not None]
                if outbox_ids:
                    await self._mark_emitted(outbox_ids=outbox_ids, meta=meta)
        return outgoing

    async def _undeliverable(
        self, outgoing: list[Outgoing], exc: UndeliverableError, *, meta: MessageMeta
    ) -> list[Outgoing]:
        """Record the messages that can never be sent; returns the ones that were sent.

        Retrying would block the partition for good, so the failure is stored (the
        outbox row keeps the message and the reason) and the input is acknowledged.
        """
        failed_ids = [m.outbox_id for m in exc.messages if m.outbox_id is not None]
        log.error(
            "%s[%s]@%s: %d outgoing message(s) can never be sent (outbox ids %s): %s",
            meta.topic,
            meta.partition,
            meta.offset,
            len(exc.messages),
            failed_ids,
            exc.reason,
        )
        if failed_ids:
            call = self._processor.mark_undeliverable
            try:
                await self._retrying(lambda: call(outbox_ids=failed_ids, reason=exc.reason), meta=meta)
            except RetriesExhaustedError:
                raise  # unrecorded: stop unacknowledged, the redelivery records it
            except Exception:
                log.exception("mark_undeliverable failed for outbox ids %s", failed_ids)
        return [m for m in outgoing if m not in exc.messages]

    async def _process(self, *, stage: Stage, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        call = self._processor.on_received if stage == "received" else self._processor.on_review_completed
        try:
            return await self._retrying(lambda: call(raw=raw, meta=meta), meta=meta)
        except RetriesExhaustedError:
            raise
        except Exception as exc:
            log.exception("processor failed on %s[%s]@%s", meta.topic, meta.partition, meta.offset)
            reason, error_type = f"processing failed: {exc}", type(exc).__qualname__
        self.health.dead_lettered += 1
        record = partial(
            self._processor.dead_letter, raw=raw, meta=meta, reason=reason, error_type=error_type
        )
        try:
            return await self._retrying(record, meta=meta)
        except RetriesExhaustedError:
            raise
        except Exception:
            # The store refused the record itself: still never drop the message. The
            # topic keeps the original bytes and the log says the database missed it.
            log.critical(
                "dead letter for %s[%s]@%s could not be recorded in the database; published only",
                meta.topic,
                meta.partition,
                meta.offset,
                exc_info=True,
            )
            return [
                dead_letter(
                    raw=raw,
                    meta=meta,
                    reason=reason,
                    error_type=error_type,
                    deadletter_topic=self._deadletter_topic,
                    max_bytes=self._max_message_bytes,
                )
            ]

    async def _mark_emitted(self, *, outbox_ids: list[int], meta: MessageMeta) -> None:
        try:
            await self._retrying(lambda: self._processor.mark_emitted(outbox_ids=outbox_ids), meta=meta)
        except RetriesExhaustedError:
            raise
        except Exception:
            log.exception("mark_emitted failed for outbox ids %s", outbox_ids)

    async def _retrying(self, call: Callable[[], Awaitable[T]], *, meta: MessageMeta) -> T:
        # First attempt outside tenacity: building its retry state costs more than
        # the rest of the edge per message, and almost every call succeeds.
        try:
            return await call()
        except self._retryable as exc:
            first: BaseException = exc
        policy = self._retry
        self._log_retry(meta, 1, first)
        if policy.attempts is not None and policy.attempts <= 1:
            self.health.settled(meta, gave_up=True)
            raise self._exhausted(meta, 1) from first
        stop: stop_base = stop_after_delay(policy.give_up_after_s)
        if policy.attempts is not None:
            stop = stop_any(stop, stop_after_attempt(policy.attempts - 1))
        retrying = AsyncRetrying(
            stop=stop,
            wait=wait_exponential_jitter(
                multiplier=policy.initial_s, max=policy.max_s, jitter=policy.initial_s
            ),
            retry=retry_if_exception_type(self._retryable),
            before_sleep=lambda state: self._log_retry(
                meta, state.attempt_number + 1, state.outcome.exception() if state.outcome else None
            ),
            sleep=asyncio.sleep,
        )
        await asyncio.sleep(min(policy.initial_s, policy.max_s))
        try:
            async for attempt in retrying:
                with attempt:
                    result = await call()
        except RetryError as exc:
            self.health.settled(meta, gave_up=True)
            raise self._exhausted(meta, exc.last_attempt.attempt_number + 1) from exc.last_attempt.exception()
        except BaseException:
            self.health.settled(meta, gave_up=True)
            raise
        self.health.settled(meta)
        log.info("%s[%s]@%s went through after a transient failure", meta.topic, meta.partition, meta.offset)
        return result

    def _exhausted(self, meta: MessageMeta, attempts: int) -> RetriesExhaustedError:
        return RetriesExhaustedError(
            topic=meta.topic, partition=meta.partition, offset=meta.offset, attempts=attempts
        )

    def _log_retry(self, meta: MessageMeta, attempt: int, error: BaseException | None) -> None:
        waited = self.health.retrying(meta, error)
        log.warning(
            "transient failure on %s[%s]@%s, attempt %s, stalled %.1fs of at most %.0fs: %r",
            meta.topic,
            meta.partition,
            meta.offset,
            attempt,
            waited,
            self._retry.give_up_after_s,
            error,
        )
