"""Oversized input and output against the real broker and a real worker process.

Valid documents interleaved with an input over `kafka.max_event_bytes`, a 4 MB text
over the text limit, and a valid claim whose review request carried a 2 MB rules
trace before the size budget (the old code sent it and the producer refused it,
again and again, blocking the partition). Every message must end in the ledger,
every outgoing message within the budget, and the worker must still be running.

The evaluator now stores a compacted trace (47 KB for that claim, not 2 MB), so the
worker here runs with a 100 KB message budget: the claim's review request with its
trace (its 40,000-character diagnosis line in the extraction and in the trace) is
still over it, and must be cut, not refused.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from autoclerk.samples import received_event
from feedback.datasets import load_labelled_jsonl
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.db.tables import ExtractionRow, OutboxRow, ReviewTaskRow, RuleResultRow, TriageRow
from infra.kafka import ensure_topics, make_consumer, make_producer
from schemas.events import DocumentReceived, Envelope
from schemas.messages import Topics
from tests.faults.ledger import check_ledger
from tests.support import DATA, outcome_counts, small_corpus, spawn_worker, wait_until, worker_env

BUDGET = 100_000  # kafka.max_message_bytes for this test (the default is 900,000)
MAX_EVENT_BYTES = 5_000_000  # kafka.max_event_bytes, the default
# The review claim has one 40,000-character line of diagnosis codes: allowed here,
# over the default line limit (10,000), which bounds extraction work tighter.
MAX_LINE_CHARS = 50_000


def _claim_text(*, codes_chars: int) -> str:
    """A shipped health claim whose diagnosis line lists distinct codes, none billable."""
    base = load_labelled_jsonl(DATA / "samples" / "claims.jsonl")[0]
    codes, size, n = [], 3, 0
    while size < codes_chars:
        codes.append(f"{'ABCDEFGHJKLMNPQRSTVWXYZ'[n % 23]}{(n // 23) % 100:02d}{n % 10_000:04d}")
        size += len(codes[-1]) + 2
        n += 1
    lines = [line.text for line in base.lines]
    at = next(i for i, t in enumerate(lines) if t.startswith("A. "))  # the first diagnosis
    lines[at] = "A. " + "  ".join(codes)
    return "\n".join(lines)


def _event(doc_id: str, text: str, *, kind: str = "claim") -> bytes:
    payload = DocumentReceived.model_validate({"document_id": doc_id, "kind": kind, "text": text})
    return Envelope[DocumentReceived](type="document.received", payload=payload).model_dump_json().encode()


def _inputs() -> tuple[list[bytes], dict[str, bytes]]:
    valid = [received_event(d).model_dump_json().encode() for d in small_corpus()[1][:10]]
    special = {
        "too_large": _event("too-large", "total: 1.00\n" + "x" * (MAX_EVENT_BYTES + 200_000)),
        # 4 MB of text in 100 lines: under the event, line-count and line limits, over the text limit.
        "too_much_text": _event("too-much-text", ("z" * 40_000 + "\n") * 100),
        "review": _event("big-review", _claim_text(codes_chars=40_000)),
    }
    published = [*valid[:3], special["too_large"], *valid[3:6], special["too_much_text"]]
    published += [*valid[6:8], special["review"], *valid[8:]]
    return published, special


async def _publish(bootstrap: str, topic: str, values: list[bytes]) -> None:
    # An upstream producer allowed to send more than we accept (tansu takes it).
    producer = make_producer(bootstrap=bootstrap, max_request_size=2 * MAX_EVENT_BYTES)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=uuid.uuid4().hex.encode())
    finally:
        await producer.stop()


async def _read(bootstrap: str, *topics: str, count: int) -> list[Any]:
    consumer = make_consumer(*topics, bootstrap=bootstrap, group_id=None)
    await consumer.start()
    got: list[Any] = []
    try:
        for _ in range(100):  # bounded: the worker already stored and emitted them all
            if len(got) >= count:
                break
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                got.extend(messages)
    finally:
        await consumer.stop()
    return got


def _emitted(db_url: str) -> bool:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            rows = s.execute(select(OutboxRow.emitted_at, OutboxRow.failed_at)).all()
    finally:
        engine.dispose()
    return bool(rows) and all(emitted is not None for emitted, _ in rows)


def _old_review_request_bytes(db_url: str, document_id: str) -> int:
    """What the code before the size budget sent: the task with the full rules trace."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            task = s.execute(
                select(ReviewTaskRow).where(col(ReviewTaskRow.document_id) == document_id)
            ).scalar_one()
            rules = s.get(RuleResultRow, document_id)
            extraction, triage = s.get(ExtractionRow, document_id), s.get(TriageRow, document_id)
            assert rules is not None and extraction is not None and triage is not None
            payload = {
                "task_id": task.task_id,
                "reasons": task.reasons,
                "extraction": extraction.result,
                "triage": triage.result,
                "rules": {
                    "rules_version": rules.rules_version,
                    "outcome": rules.outcome,
                    "reasons": rules.reasons,
                    "trace": rules.trace,
                },
            }
    finally:
        engine.dispose()
    return len(json.dumps(payload).encode())


def test_oversized_messages_are_dead_lettered_or_cut_and_nothing_blocks(
    tmp_path: Path, trained_models: Path, fault_db: str
) -> None:
    published, special = _inputs()
    prefix = f"oversize-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    db_url = fault_db
    log = tmp_path / "worker.log"
    migrate(db_url)
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        env = worker_env(bootstrap=broker.bootstrap, prefix=prefix, db_url=db_url, models_dir=trained_models)
        env["AUTOCLERK_LIMITS__MAX_LINE_CHARS"] = str(MAX_LINE_CHARS)
        env["AUTOCLERK_KAFKA__MAX_MESSAGE_BYTES"] = str(BUDGET)
        worker = spawn_worker(env, log)
        try:
            asyncio.run(_publish(broker.bootstrap, topics.received, published))
            wait_until(
                lambda: sum(outcome_counts(db_url).values()) >= len(published) and _emitted(db_url),
                timeout_s=240,
                what="every input handled and every outgoing message sent",
                proc=worker,
                log=log,
            )
            assert worker.poll() is None, "the worker must still be running"
            out = asyncio.run(
                _read(
                    broker.bootstrap,
                    topics.decided,
                    topics.review_requested,
                    topics.deadletter,
                    count=len(published),
                )
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    ledger = check_ledger(db_url=db_url, published=published)
    print(ledger.row(f"oversize inputs and a review message over the budget ({db_url.split(':')[0]})"))
    ledger.assert_nothing_lost()
    assert ledger.dead_lettered == 2 and ledger.duplicate == 0
    assert ledger.decided + ledger.in_review == len(published) - 2

    assert len(out) == len(published)
    assert all(len(m.value) + len(m.key or b"") <= BUDGET for m in out)
    letters = {
        json.loads(m.value)["payload"]["error_type"]: json.loads(m.value)["payload"]
        for m in out
        if m.topic == topics.deadletter
    }
    assert set(letters) == {"EventTooLarge", "DocumentTooLarge"}
    for letter, raw in (
        (letters["EventTooLarge"], special["too_large"]),
        (letters["DocumentTooLarge"], special["too_much_text"]),
    ):
        assert letter["original_omitted"] and letter["original_base64"] == ""
        assert letter["original_size_bytes"] == len(raw)
        assert letter["original_record"]["table"] == "dead_letters"
    assert "exceeds the limit of 5000000" in letters["EventTooLarge"]["reason"]
    assert "characters of text, limit 300000" in letters["DocumentTooLarge"]["reason"]

    [review] = [json.loads(m.value)["payload"] for m in out if m.key == b"big-review"]
    assert review["rules"]["trace"] == {}
    assert review["omitted"][0]["path"] == "rules.trace" and review["omitted"][0]["size_bytes"] > 40_000
    assert _old_review_request_bytes(db_url, "big-review") > BUDGET
