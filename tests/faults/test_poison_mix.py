"""Bad input interleaved with good, through the real broker and a real worker: every
bad message becomes a dead letter recorded in the database (with its original bytes
and the reason), every good one exactly one outcome, and the worker keeps going."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from autoclerk.samples import received_event
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.db.tables import DeadLetterRow
from infra.kafka import ensure_topics, make_producer
from schemas.messages import Topics
from tests.faults.ledger import check_ledger
from tests.support import outcome_counts, small_corpus, spawn_worker, wait_until, worker_env

MAX_EVENT_BYTES = 200_000  # lowered so an over-limit input stays a cheap real message


def _envelope(payload: dict[str, object], **over: object) -> bytes:
    env = {
        "event_id": uuid.uuid4().hex,
        "type": "document.received",
        "schema_version": 1,
        "time": "2026-12-01T00:00:00Z",
        "source": "poison",
        "payload": payload,
        **over,
    }
    return json.dumps(env).encode()


def poison(valid: bytes, rng: random.Random) -> dict[str, bytes]:
    doc = {"kind": "invoice", "text": "Vendor: ACME\nTotal: 12.00"}
    return {
        "random_bytes": rng.randbytes(300),
        "random_bytes_2": rng.randbytes(4000),
        "truncated_json": valid[: len(valid) // 2],
        "deep_json": b"[" * 50_000 + b"]" * 50_000,
        "deep_metadata": _envelope({**doc, "document_id": "deep", "metadata": {"x": 0}}).replace(
            b'{"x": 0}', b'{"x": ' + b"[" * 3000 + b"]" * 3000 + b"}"
        ),
        "lone_surrogate": _envelope({**doc, "document_id": "sur", "text": "Total \ud800 12.00"}),
        "nul": _envelope({**doc, "document_id": "nul", "text": "Total\u0000 12.00"}),
        "oversize": _envelope({**doc, "document_id": "big", "text": "x " * (MAX_EVENT_BYTES // 2 + 10)}),
        "unknown_kind": _envelope({**doc, "document_id": "memo", "kind": "memo"}),
        "bad_version": _envelope({**doc, "document_id": "v9"}, schema_version=9),
        "empty": _envelope({**doc, "document_id": "empty", "text": " \n "}),
        "not_an_object": b"[1, 2, 3]",
        "wrong_type": _envelope({**doc, "document_id": "wt"}, type="review.completed"),
    }


def test_poison_mix_is_dead_lettered_and_recorded_and_the_worker_keeps_going(
    tmp_path: Path, trained_models: Path, fault_db: str
) -> None:
    rng = random.Random(7)
    train, test = small_corpus()
    valid = [received_event(d).model_dump_json().encode() for d in (test + train)[:30]]
    bad = poison(valid[0], rng)
    conflict = json.loads(valid[1])  # a known document id with other content
    conflict["event_id"] = uuid.uuid4().hex
    if conflict["payload"].get("ocr_lines"):
        conflict["payload"]["ocr_lines"][0]["text"] += " (altered)"
    else:
        conflict["payload"]["text"] += " (altered)"
    stream = valid + list(bad.values())
    rng.shuffle(stream)
    # After the original (first one wins): the same id with other content; then valid[2]
    # sent again, which is a re-send (a duplicate), not a second document.
    bad["id_reused_other_content"] = json.dumps(conflict).encode()
    stream += [bad["id_reused_other_content"], valid[2]]
    prefix = f"poison-{uuid.uuid4().hex[:8]}"
    topics = Topics.with_prefix(prefix)
    log = tmp_path / "worker.log"
    migrate(fault_db)
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(bootstrap=broker.bootstrap, names=topics.all(), partitions=2))
        env = worker_env(
            bootstrap=broker.bootstrap, prefix=prefix, db_url=fault_db, models_dir=trained_models
        )
        env["AUTOCLERK_KAFKA__MAX_EVENT_BYTES"] = str(MAX_EVENT_BYTES)
        worker = spawn_worker(env, log)
        try:
            asyncio.run(_produce(broker.bootstrap, topics.received, stream))
            wait_until(
                lambda: sum(outcome_counts(fault_db).values()) >= len(stream),
                timeout_s=300,
                what="every message handled",
                proc=worker,
                log=log,
            )
            assert worker.poll() is None
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    ledger = check_ledger(db_url=fault_db, published=stream)
    print(ledger.row(f"poison mix ({fault_db.split(':')[0]})"))
    ledger.assert_nothing_lost()
    assert ledger.dead_lettered == len(bad)
    assert outcome_counts(fault_db)["duplicates"] == 1  # the re-send was recognised
    engine = make_engine(fault_db)
    with Session(engine) as s:
        rows = s.execute(select(DeadLetterRow.original, DeadLetterRow.reason)).all()
    engine.dispose()
    reasons = {bytes(original): reason for original, reason in rows}
    assert set(reasons) == set(bad.values())
    assert "nested too deeply" in reasons[bad["deep_json"]]
    assert "unpaired surrogate" in reasons[bad["lone_surrogate"]]
    assert "exceeds the limit" in reasons[bad["oversize"]]
    assert "different content" in reasons[bad["id_reused_other_content"]]


def _key(value: bytes, i: int) -> bytes:
    # Keyed by document id, as upstream would: a document's messages share a partition
    # and keep their order (the conflicting re-send must come after its original).
    try:
        return str(json.loads(value)["payload"]["document_id"]).encode()
    except (ValueError, KeyError, TypeError, RecursionError):
        return f"k{i}".encode()


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = make_producer(bootstrap=bootstrap, max_request_size=2_000_000)
    await producer.start()
    try:
        for i, value in enumerate(values):
            await producer.send_and_wait(topic, value, key=_key(value, i))
    finally:
        await producer.stop()
