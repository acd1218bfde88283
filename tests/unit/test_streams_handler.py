"""The per-message failure policy, with a scripted processor and an in-memory publisher."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import replace

import pytest

from schemas.events import DeadLetter, Envelope
from schemas.messages import MessageMeta, Outgoing
from streams.errors import DeliveryError, RetriesExhaustedError, RetryableError, UndeliverableError
from streams.handler import MessageHandler, RetryPolicy
from streams.ports import Processor

META = MessageMeta(topic="p.documents.received", partition=2, offset=41, timestamp_ms=1, key=b"k")
NO_WAIT = RetryPolicy(attempts=3, initial_s=0.0, max_s=0.0)
NO_WAIT_TIMED = RetryPolicy(give_up_after_s=0.3, initial_s=0.01, max_s=0.02)


class ScriptedProcessor(Processor):
    """Raises the scripted errors in order, then returns `result`."""

    def __init__(self, *errors: BaseException, result: list[Outgoing] | None = None) -> None:
        self.errors = list(errors)
        self.result = result if result is not None else []
        self.calls = 0
        self.emitted: list[int] = []
        self.mark_error: Exception | None = None
        self.dead: list[tuple[bytes, str, str]] = []
        self.dead_error: Exception | None = None
        self.undeliverable: list[tuple[list[int], str]] = []
        self.undeliverable_errors: list[Exception] = []

    async def on_received(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result

    async def on_review_completed(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        return [Outgoing("p.documents.decided", meta.key, b"review:" + raw)]

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        if self.mark_error is not None:
            raise self.mark_error
        self.emitted.extend(outbox_ids)

    async def dead_letter(
        self, *, raw: bytes, meta: MessageMeta, reason: str, error_type: str
    ) -> list[Outgoing]:
        if self.dead_error is not None:
            error, self.dead_error = self.dead_error, None
            raise error
        self.dead.append((raw, reason, error_type))
        return [Outgoing("p.documents.deadletter", meta.key, b"recorded:" + raw, outbox_id=99)]

    async def mark_undeliverable(self, *, outbox_ids: list[int], reason: str) -> None:
        if self.undeliverable_errors:
            raise self.undeliverable_errors.pop(0)
        self.undeliverable.append((outbox_ids, reason))


class Broker:
    """Acknowledges what it is given, except scripted failures and messages whose
    value is in `refuse` (those it never accepts, as a broker refuses a too-large one)."""

    def __init__(self, *failures: Exception, refuse: frozenset[bytes] = frozenset()) -> None:
        self.failures = list(failures)
        self.refuse = refuse
        self.sent: list[Outgoing] = []
        self.calls = 0

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.extend(m for m in messages if m.value not in self.refuse)
        refused = [m for m in messages if m.value in self.refuse]
        if refused:
            raise UndeliverableError("MESSAGE_TOO_LARGE", messages=refused)


def handler(processor: Processor, broker: Broker, **kw: object) -> MessageHandler:
    return MessageHandler(
        processor=processor,
        publish=broker.publish,
        deadletter_topic="p.documents.deadletter",
        **{"retry": NO_WAIT, **kw},  # type: ignore[arg-type]
    )


DECIDED = [
    Outgoing("p.documents.decided", b"k", b"ok", outbox_id=7),
    Outgoing("p.review.requested", b"k", b"task", outbox_id=None),
]


async def test_publishes_then_marks_only_outbox_rows() -> None:
    processor, broker = ScriptedProcessor(result=DECIDED), Broker()
    out = await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert out == DECIDED and broker.sent == DECIDED
    assert processor.emitted == [7]


async def test_review_stage_calls_the_review_method() -> None:
    broker = Broker()
    await handler(ScriptedProcessor(), broker).handle(stage="review_completed", raw=b"r", meta=META)
    assert [m.value for m in broker.sent] == [b"review:r"]


async def test_unexpected_error_is_recorded_as_a_dead_letter_by_the_processor() -> None:
    processor, broker = ScriptedProcessor(KeyError("vendor")), Broker()
    h = handler(processor, broker)
    await h.handle(stage="received", raw=b"\x00bad", meta=META)
    [(raw, reason, error_type)] = processor.dead
    assert (raw, error_type) == (b"\x00bad", "KeyError") and "vendor" in reason
    assert [m.value for m in broker.sent] == [b"recorded:\x00bad"] and processor.emitted == [99]
    assert h.health.dead_lettered == 1


async def test_dead_letter_record_waits_out_a_database_outage() -> None:
    processor, broker = ScriptedProcessor(KeyError("vendor")), Broker()
    processor.dead_error = RetryableError("db down")
    await handler(processor, broker).handle(stage="received", raw=b"bad", meta=META)
    assert [m.value for m in broker.sent] == [b"recorded:bad"]


async def test_dead_letter_the_store_refuses_is_still_published_with_the_original_bytes() -> None:
    processor, broker = ScriptedProcessor(KeyError("vendor")), Broker()
    processor.dead_error = ValueError("store refused the row")
    await handler(processor, broker).handle(stage="received", raw=b"\x00bad", meta=META)
    [dead] = broker.sent
    assert (dead.topic, dead.key, dead.outbox_id) == ("p.documents.deadletter", b"k", None)
    letter = Envelope[DeadLetter].model_validate_json(dead.value)
    assert letter.type == "document.deadletter"
    assert base64.b64decode(letter.payload.original_base64) == b"\x00bad"
    assert letter.payload.error_type == "KeyError"
    assert "vendor" in letter.payload.reason
    assert (letter.payload.topic, letter.payload.partition, letter.payload.offset) == (
        META.topic,
        2,
        41,
    )
    assert processor.calls == 1 and processor.emitted == []


async def test_transient_failure_is_retried() -> None:
    processor, broker = ScriptedProcessor(RetryableError("db"), result=DECIDED), Broker()
    await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert processor.calls == 2 and broker.sent == DECIDED


async def test_retries_run_out_and_nothing_is_published() -> None:
    processor, broker = ScriptedProcessor(*[RetryableError("db")] * 5), Broker()
    with pytest.raises(RetriesExhaustedError) as caught:
        await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert (caught.value.offset, caught.value.attempts) == (41, 3)
    assert isinstance(caught.value.__cause__, RetryableError)
    assert processor.calls == 3 and broker.sent == []


async def test_extra_retryable_types_from_the_composition_root() -> None:
    processor = ScriptedProcessor(TimeoutError("llm"), result=DECIDED)
    broker = Broker()
    await handler(processor, broker, retryable=(TimeoutError,)).handle(
        stage="received", raw=b"doc", meta=META
    )
    assert processor.calls == 2 and broker.sent == DECIDED


async def test_failed_publish_is_retried_without_processing_again() -> None:
    processor, broker = ScriptedProcessor(result=DECIDED), Broker(DeliveryError("timeout"))
    await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert processor.calls == 1 and broker.sent == DECIDED and processor.emitted == [7]


async def test_publish_that_never_succeeds_stops_the_worker() -> None:
    processor = ScriptedProcessor(result=DECIDED)
    broker = Broker(*[DeliveryError("down")] * 3)
    with pytest.raises(RetriesExhaustedError):
        await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert processor.emitted == []


async def test_mark_emitted_failure_does_not_undo_a_publish() -> None:
    processor, broker = ScriptedProcessor(result=DECIDED), Broker()
    processor.mark_error = RuntimeError("row locked")
    out = await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert out == DECIDED and broker.sent == DECIDED


async def test_retries_are_bounded_by_time_and_health_reports_the_stall() -> None:
    processor, broker = ScriptedProcessor(*[RetryableError("db")] * 10_000), Broker()
    h = handler(processor, broker, retry=NO_WAIT_TIMED)
    with pytest.raises(RetriesExhaustedError):
        await h.handle(stage="received", raw=b"doc", meta=META)
    assert processor.calls > 3  # not a count limit: it kept trying for the whole window
    assert h.health.gave_up == 1 and h.health.healthy


class OutageProcessor(ScriptedProcessor):
    """`doc` fails while the outage lasts; every call is logged in order."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.log: list[bytes] = []
        self.stalled = asyncio.Event()

    async def on_received(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        self.log.append(raw)
        if raw == b"doc" and self.down:
            self.stalled.set()
            raise RetryableError("db")
        return []


async def test_a_stalled_partition_holds_back_its_later_messages_until_the_outage_ends() -> None:
    processor, broker = OutageProcessor(), Broker()
    h = handler(processor, broker, retry=RetryPolicy(give_up_after_s=30, initial_s=0.01, max_s=0.02))
    first = asyncio.ensure_future(h.handle(stage="received", raw=b"doc", meta=META))
    await processor.stalled.wait()
    assert h.health.snapshot()["status"] == "degraded"
    await h.handle(stage="received", raw=b"other", meta=replace(META, partition=3))  # not held back
    second = asyncio.ensure_future(h.handle(stage="received", raw=b"next", meta=replace(META, offset=42)))
    await asyncio.sleep(0.1)
    assert b"next" not in processor.log  # held back behind the stalled message
    processor.down = False
    await first
    await second
    assert processor.log[-2:] == [b"doc", b"next"]
    snap = h.health.snapshot()
    assert snap["status"] == "ok" and snap["recovered_total"] == 1 and snap["held_back_total"] == 1


async def test_a_message_that_can_never_be_sent_is_recorded_and_the_rest_go_out() -> None:
    processor, broker = ScriptedProcessor(result=DECIDED), Broker(refuse=frozenset({b"ok"}))
    out = await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert out == [DECIDED[1]] and broker.sent == [DECIDED[1]]
    assert processor.undeliverable == [([7], "MESSAGE_TOO_LARGE")]
    assert processor.emitted == []
    assert broker.calls == 1  # a permanent refusal is not retried


async def test_refusal_of_a_message_without_an_outbox_row_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    processor, broker = ScriptedProcessor(result=DECIDED), Broker(refuse=frozenset({b"task"}))
    out = await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert out == [DECIDED[0]] and processor.emitted == [7]
    assert processor.undeliverable == []
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "can never be sent" in record.getMessage() and "MESSAGE_TOO_LARGE" in record.getMessage()


async def test_recording_the_refusal_is_retried_and_stops_the_worker_when_it_cannot() -> None:
    processor, broker = ScriptedProcessor(result=DECIDED), Broker(refuse=frozenset({b"ok"}))
    processor.undeliverable_errors = [RetryableError("db")]
    await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert processor.undeliverable == [([7], "MESSAGE_TOO_LARGE")]

    processor, broker = ScriptedProcessor(result=DECIDED), Broker(refuse=frozenset({b"ok"}))
    processor.undeliverable_errors = [RetryableError("db")] * 3
    with pytest.raises(RetriesExhaustedError):  # unacknowledged: the redelivery records it
        await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)


async def test_a_dead_letter_from_the_edge_keeps_to_the_budget() -> None:
    processor, broker = ScriptedProcessor(KeyError("vendor")), Broker()
    processor.dead_error = ValueError("store refused the row")  # the edge's last resort
    raw = b"x" * 200_000
    await handler(processor, broker, max_message_bytes=100_000).handle(stage="received", raw=raw, meta=META)
    [dead] = broker.sent
    assert len(dead.value) < 100_000
    letter = Envelope[DeadLetter].model_validate_json(dead.value).payload
    assert letter.original_omitted and letter.original_base64 == "" and letter.original_record is None
    assert (letter.original_size_bytes, letter.offset) == (200_000, 41)


async def test_a_refusal_after_a_transient_failure_is_still_permanent() -> None:
    processor = ScriptedProcessor(result=DECIDED)
    broker = Broker(DeliveryError("timeout"), refuse=frozenset({b"ok"}))
    out = await handler(processor, broker).handle(stage="received", raw=b"doc", meta=META)
    assert out == [DECIDED[1]] and broker.calls == 2
    assert processor.undeliverable == [([7], "MESSAGE_TOO_LARGE")]
