"""A message is its bytes at a position of one broker incarnation.

Found by fault injection: after the embedded broker restarted (memory storage),
offsets began again at 0 and new documents at known offsets were acknowledged as
redeliveries, with no row and no dead letter. On both databases, with real
millisecond timestamps."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from agents.service import DocumentService
from autoclerk.bootstrap import Database
from infra.db.tables import DeadLetterRow, DecisionRow, IngestLedger, ReviewTaskRow
from schemas.events import Envelope, ReviewCompleted
from schemas.messages import MessageMeta
from tests.integration.test_service_flow import GOOD, TOPICS, Feed, count, database, received, service

__all__ = ["database", "service"]  # fixtures shared with test_service_flow


def decoded_types(out: list[Any]) -> list[str]:
    return [json.loads(o.value)["type"] for o in out]


async def test_kafka_timestamps_and_large_offsets_are_stored(
    service: DocumentService, database: Database
) -> None:
    meta = MessageMeta(
        topic=TOPICS.received, partition=3, offset=2**40, timestamp_ms=1_764_633_600_123, epoch="e1"
    )
    out = await service.on_received(raw=received(GOOD), meta=meta)
    assert decoded_types(out) == ["document.decided"]
    async with database.engine.connect() as c:
        row = (await c.execute(select(IngestLedger.offset, IngestLedger.timestamp_ms))).one()
    assert (row.offset, row.timestamp_ms) == (2**40, 1_764_633_600_123)


async def test_new_document_at_a_known_offset_after_a_broker_reset_is_processed(
    service: DocumentService, database: Database
) -> None:
    before = [received(GOOD.replace("ACME", f"ACME {i}")) for i in range(3)]
    feed = Feed()
    for raw in before:
        await service.on_received(raw=raw, meta=feed.meta())
    # The broker comes back empty: same topic, offsets from the start again, new documents.
    # Neither a new epoch nor the same (stale) one may make them look like redeliveries.
    for epoch in ("", "after-reset"):
        feed = Feed(epoch=epoch)
        for i in range(3):
            raw = received(GOOD.replace("ACME", f"NEW {epoch} {i}"))
            assert decoded_types(await service.on_received(raw=raw, meta=feed.meta())) == ["document.decided"]
    assert await count(database, DecisionRow) == 9


async def test_same_bytes_at_the_same_position_are_still_a_redelivery(
    service: DocumentService, database: Database
) -> None:
    raw, meta = received(GOOD), Feed().meta()
    first = await service.on_received(raw=raw, meta=meta)
    await service.mark_emitted(outbox_ids=[o.outbox_id for o in first if o.outbox_id])
    assert await service.on_received(raw=raw, meta=meta) == []
    assert await count(database, DecisionRow) == 1


async def test_bad_input_at_a_reused_offset_is_dead_lettered_again(
    service: DocumentService, database: Database
) -> None:
    meta = Feed().meta()
    await service.on_received(raw=b"not json 1", meta=meta)
    out = await service.on_received(raw=b"not json 2", meta=meta)  # after a reset: same offset
    assert decoded_types(out) == ["document.deadletter"]
    async with database.engine.connect() as c:
        originals = sorted((await c.execute(select(DeadLetterRow.original))).scalars())
    assert originals == [b"not json 1", b"not json 2"]


async def test_review_completion_at_a_known_offset_of_the_review_topic_is_processed(
    service: DocumentService, database: Database
) -> None:
    feed = Feed()
    tasks = []
    for i in range(2):
        raw = received(GOOD.replace("ACME", f"ACME{i}?"), doc_id=f"doc-{i}")
        out = await service.on_received(raw=raw, meta=feed.meta())
        await service.mark_emitted(outbox_ids=[o.outbox_id for o in out if o.outbox_id])
        tasks.append(json.loads(out[0].value)["payload"]["task_id"])
    review_meta = MessageMeta(topic=TOPICS.review_completed, partition=0, offset=0, timestamp_ms=1)
    for i, task_id in enumerate(tasks):
        done = ReviewCompleted(task_id=task_id, document_id=f"doc-{i}", reviewer="ann", outcome="approve")
        raw = Envelope[ReviewCompleted](type="review.completed", payload=done).model_dump_json().encode()
        # the second completion arrives at the offset of the first (the broker was reset)
        assert decoded_types(await service.on_review_completed(raw=raw, meta=review_meta)) == [
            "document.decided"
        ]
    async with database.engine.connect() as c:
        statuses = set((await c.execute(select(ReviewTaskRow.status))).scalars())
    assert statuses == {"completed"} and await count(database, DecisionRow) == 2
