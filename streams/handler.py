"""One message through the processor and out to the broker, transport-neutral.

Kept apart from faust so the failure policy (dead letter, retry, give up) is
tested with plain fakes and reused by replay. The policy, per message:

- the processor returns outgoing messages          -> publish them, then mark them emitted
- some can never be sent (UndeliverableError)      -> the rest are published; those are marked
  failed in the outbox with the reason, logged at ERROR, and the input is acknowledged
- the processor raises a retryable error            -> retry with exponential backoff
- the processor raises anything else                -> publish a dead letter instead
- retries run out (processing or publishing)        -> RetriesExhaustedError: the caller
  stops without acknowledging, so the broker delivers the message again
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt, wait_exponential

from agents.budget import DEFAULT_MAX_MESSAGE_BYTES
from schemas.messages import MessageMeta, Outgoing
from streams.deadletter import dead_letter
from streams.errors import RetriesExhaustedError, RetryableError, UndeliverableError
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
    """Bounded exponential backoff: `attempts` tries, waits from `initial_s` up to `max_s`."""

    attempts: int = 5
    initial_s: float = 0.2
    max_s: float = 5.0


DEFAULT_RETRY = RetryPolicy()


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
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._max_message_bytes = max_message_bytes
        self._processor = processor
        self._publish = publish
        self._deadletter_topic = deadletter_topic
        self._retryable: tuple[type[BaseException], ...] = (RetryableError, *retryable)
        self._retry = retry

    async def handle(self, *, stage: Stage, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        """Process, publish and mark emitted; returns what was published."""
        outgoing = await self._process(stage=stage, raw=raw, meta=meta)
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
            return [
                dead_letter(
                    raw=raw,
                    meta=meta,
                    reason=f"processing failed: {exc}",
                    error_type=type(exc).__qualname__,
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
        if policy.attempts <= 1:
            raise self._exhausted(meta) from first
        await asyncio.sleep(min(policy.initial_s, policy.max_s))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts - 1),
            wait=wait_exponential(multiplier=policy.initial_s * 2, max=policy.max_s),
            retry=retry_if_exception_type(self._retryable),
            before_sleep=lambda state: self._log_retry(
                meta, state.attempt_number + 1, state.outcome.exception() if state.outcome else None
            ),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    result = await call()
        except RetryError as exc:
            raise self._exhausted(meta) from exc.last_attempt.exception()
        return result

    def _exhausted(self, meta: MessageMeta) -> RetriesExhaustedError:
        return RetriesExhaustedError(
            topic=meta.topic, partition=meta.partition, offset=meta.offset, attempts=self._retry.attempts
        )

    @staticmethod
    def _log_retry(meta: MessageMeta, attempt: int, error: BaseException | None) -> None:
        log.warning(
            "retrying %s[%s]@%s after attempt %s: %r", meta.topic, meta.partition, meta.offset, attempt, error
        )
