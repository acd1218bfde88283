"""The store's hot path in SQLAlchemy Core: plain functions of one `Connection`.

Each public function is one transaction's work, run by `infra.db.transactions`
(`SqlStore` picks the runner). Core rather than the ORM's unit of work: the profile of
the worker put session bookkeeping (identity map, flush ordering, attribute events)
at several milliseconds a document for a handful of rows that are only ever
inserted. Rows are still built by `infra.store_rows` from validated domain objects
and inserted by column, so a column added to a table model flows through unchanged.

Admission: is this message new, a redelivery, a re-send or a conflict? A message is
its bytes at a position of one broker incarnation, so the ledger is searched by
(epoch, topic, partition, offset) and the bytes' hash decides; a document is its id
plus its content hash. A losing writer's IntegrityError propagates and rolls the
transaction back, and the caller reports what is stored instead.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import datetime
from functools import cache, partial
from typing import Any, cast

from sqlalchemy import Connection, Insert, Row, Table, bindparam, insert, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlmodel import SQLModel, col

from infra.db.tables import (
    DecisionRow,
    DocumentRow,
    IngestLedger,
    OutboxRow,
    ReviewTaskRow,
    utcnow,
)
from infra.store_rows import Values, ledger_row, payload_hash, result_rows, values
from schemas.document import Document, content_hash
from schemas.events import DocumentReceived, Envelope
from schemas.messages import MessageMeta, Outgoing
from schemas.store import Admission

log = logging.getLogger(__name__)


# Statements are built once, with bound parameters: building and cache-keying a
# SQLAlchemy expression per call cost more than SQLite's execution of it (profiled in
# the writer thread, bench/service.py --profile).
P = bindparam


@cache
def _insert(model: type[SQLModel]) -> tuple[Insert, tuple[tuple[str, str, bool], ...]]:
    table: Table = model.__table__  # type: ignore[attr-defined]
    mapper = sa_inspect(model)
    cols = tuple(
        (attr.key, attr.columns[0].name, bool(attr.columns[0].primary_key and attr.columns[0].autoincrement))
        for attr in mapper.column_attrs
    )
    return insert(table), cols


def insert_rows(c: Connection, *rows: SQLModel | Values[Any]) -> None:
    """INSERT each row: a table model instance, or its `Values` (defaults applied)."""
    for row in rows:
        get: Callable[[str], Any]
        if isinstance(row, Values):
            stmt, cols = _insert(cast("type[SQLModel]", row.model))
            get = row.columns.get
        else:
            stmt, cols = _insert(type(row))
            get = partial(getattr, row)
        c.execute(stmt, {name: get(key) for key, name, auto in cols if not (auto and get(key) is None)})


_LEDGER = select(col(IngestLedger.id), col(IngestLedger.content_hash)).where(
    col(IngestLedger.epoch) == P("epoch"),
    col(IngestLedger.topic) == P("topic"),
    col(IngestLedger.partition) == P("partition"),
    col(IngestLedger.offset) == P("offset"),
)
_UNSENT = select(col(OutboxRow.id), col(OutboxRow.topic), col(OutboxRow.key), col(OutboxRow.value)).where(
    col(OutboxRow.emitted_at).is_(None), col(OutboxRow.failed_at).is_(None)
)
_UNSENT_OF_DOCUMENT = _UNSENT.where(col(OutboxRow.document_id) == P("document_id")).order_by(
    col(OutboxRow.id)
)
_UNSENT_UNDER_KEY = _UNSENT.where(col(OutboxRow.dedupe_key) == P("key")).order_by(col(OutboxRow.id))
_KNOWN = select(
    col(DocumentRow.document_id),
    col(DocumentRow.event_id),
    col(DocumentRow.content_hash),
    col(DocumentRow.status),
).where(or_(col(DocumentRow.document_id) == P("document_id"), col(DocumentRow.event_id) == P("event_id")))
_DECIDED = select(col(DecisionRow.document_id)).where(col(DecisionRow.document_id) == P("document_id"))
_TASK = select(col(ReviewTaskRow.task_id)).where(col(ReviewTaskRow.document_id) == P("document_id"))
_DOCUMENT = select(col(DocumentRow.document_id)).where(col(DocumentRow.document_id) == P("document_id"))
_SET_STATUS = (
    update(DocumentRow)
    .where(col(DocumentRow.document_id) == P("doc"))
    .values(status=P("new_status"))
    .returning(col(DocumentRow.received_at))
)
_EMITTED = (
    update(OutboxRow).where(col(OutboxRow.id).in_(P("ids", expanding=True))).values(emitted_at=P("now"))
)


def ledger_entry(c: Connection, meta: MessageMeta, raw: bytes) -> Row[int | None, str] | None:
    """The ledger row of exactly these bytes at this position, if any."""
    # The bytes are part of the identity: after a broker reset or a recreated topic
    # a different message arrives at a known offset, and it is new, not a redelivery.
    at = {"epoch": meta.epoch, "topic": meta.topic, "partition": meta.partition, "offset": meta.offset}
    rows = c.execute(_LEDGER, at).all()
    if not rows:
        return None
    digest = content_hash(raw)
    same = next((r for r in rows if r.content_hash == digest), None)
    if same is None:
        log.warning(
            "%s[%s]@%s (epoch %r) held other bytes before: the broker was reset or the topic "
            "recreated; handling this message as new",
            meta.topic,
            meta.partition,
            meta.offset,
            meta.epoch,
        )
    return same


def pending(c: Connection, *, document_id: str | None = None, key: str | None = None) -> list[Outgoing]:
    """Outbox rows not yet sent (nor failed) for a document, or under one dedupe key."""
    if key is None:
        rows = c.execute(_UNSENT_OF_DOCUMENT, {"document_id": document_id})
    else:
        rows = c.execute(_UNSENT_UNDER_KEY, {"key": key})
    return [Outgoing(topic=r.topic, key=r.key, value=r.value, outbox_id=r.id) for r in rows]


def admit(
    c: Connection, *, meta: MessageMeta, raw: bytes, env: Envelope[DocumentReceived], document: Document
) -> Admission:
    doc_id, digest = document.document_id, payload_hash(env.payload)
    if ledger_entry(c, meta, raw) is not None:
        return finished_or_resume(c, doc_id)
    known = c.execute(_KNOWN, {"document_id": doc_id, "event_id": env.event_id}).all()
    by_id = next((r for r in known if r.document_id == doc_id), None)
    by_event = next((r for r in known if r.event_id == env.event_id), None)
    if by_event is not None and by_event.document_id != doc_id:
        return Admission(
            "conflict", f"event_id {env.event_id} already used by document {by_event.document_id}"
        )
    if by_id is not None:
        if by_id.content_hash != digest:
            return Admission("conflict", f"document_id {doc_id} was already received with different content")
        why = "duplicate event_id" if by_id.event_id == env.event_id else "duplicate document_id"
        detail = f"{why}: already received as event {by_id.event_id}"
        dup = ledger_row(
            meta, raw, status="duplicate", event_id=env.event_id, document_id=doc_id, detail=detail
        )
        insert_rows(c, dup)
        if by_id.status == "processing":
            # Admitted, but no outcome was stored (the worker died mid-workflow and
            # the broker lost the message): upstream's re-send is the only copy left,
            # so run the workflow again instead of waiting for one that never comes.
            return finished_or_resume(c, doc_id)
        return Admission("duplicate", why, pending(c, document_id=doc_id))
    insert_rows(
        c,
        ledger_row(meta, raw, status="accepted", event_id=env.event_id, document_id=doc_id),
        values(
            DocumentRow,
            document_id=doc_id,
            event_id=env.event_id,
            kind=document.kind,
            claim_type=document.claim_type,
            content_hash=digest,
            text=document.text,
            layout=[ln.model_dump(mode="json") for ln in document.lines if ln.bbox is not None],
            pages=[p.model_dump(mode="json") for p in document.pages],
            doc_metadata=document.metadata,
            original_pdf=base64.b64decode(env.payload.pdf_base64) if env.payload.pdf_base64 else None,
            source=env.source,
            correlation_id=env.correlation_id,
        ),
    )
    return Admission("new")


def finished_or_resume(c: Connection, doc_id: str) -> Admission:
    by = {"document_id": doc_id}
    if c.execute(_DECIDED, by).first() is not None or c.execute(_TASK, by).first() is not None:
        return Admission("done", "redelivered", pending(c, document_id=doc_id))
    if c.execute(_DOCUMENT, by).first() is None:
        return Admission("done", "redelivered after dead-lettering")
    return Admission("resume", "redelivered before an outcome was stored")


def set_status(c: Connection, document_id: str, status: str) -> datetime:
    """Move the document to `status`; returns when it was received."""
    received = c.execute(_SET_STATUS, {"doc": document_id, "new_status": status}).scalar()
    if received is None:
        raise KeyError(document_id)
    return received


def save_outcome(
    c: Connection,
    *,
    document_id: str,
    state: dict[str, Any],
    status: str,
    rows: Callable[[datetime], list[SQLModel | Values[Any]]],
) -> list[Outgoing]:
    """The workflow's results, the document's new status and the outcome rows (decision
    or review task, outbox; `rows(received_at)`), then what is left to announce."""
    insert_rows(c, *result_rows(document_id, state))
    insert_rows(c, *rows(set_status(c, document_id, status)))
    return pending(c, document_id=document_id)


def mark_emitted(c: Connection, outbox_ids: list[int]) -> None:
    c.execute(_EMITTED, {"ids": outbox_ids, "now": utcnow()})
