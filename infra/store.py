"""The SQL implementation of the service layer's `DocumentStore`.

Each method is one transaction. Idempotency lives in unique keys: the ledger's
(epoch, topic, partition, offset, content hash), one decision and one review task
per document, and the outbox's dedupe key. A losing writer rolls back and reports
what is already there, so a redelivery re-announces instead of redoing. The hot path
(admission, outcomes, outbox, reference facts) is SQLAlchemy Core in
`infra.store_core`, run whole by a `infra.db.transactions.Transactions`; the review
completion stays on the ORM.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from cachetools import TTLCache
from sqlalchemy import Connection, bindparam, func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import SQLModel, col, select

from infra import store_core as core
from infra.db.tables import (
    BusinessKeyRow,
    CorrectionRow,
    DeadLetterRow,
    DocumentRow,
    IngestLedger,
    OutboxRow,
    PolicyRow,
    PurchaseOrderRow,
    ReviewTaskRow,
    VendorRow,
    utcnow,
)
from infra.db.transactions import AsyncTransactions, Transactions
from infra.deadletters import retried_from
from infra.store_rows import Values, decision_row, ledger_row, outbox_row, scope_columns, values
from schemas.document import Document, content_hash
from schemas.events import DocumentDecided, DocumentReceived, Envelope, ReviewCompleted, ReviewRequested
from schemas.fields import Extraction
from schemas.messages import MessageMeta, Outgoing
from schemas.store import Admission, ReviewTaskRecord
from schemas.verdicts import ReferenceFacts

log = logging.getLogger(__name__)


def _by(table: type[SQLModel], column: Any) -> tuple[type[SQLModel], Any]:
    columns = table.__table__.columns  # type: ignore[attr-defined]
    return table, select(*columns).where(column == bindparam("key")).limit(1)


# Built once (see infra.store_core): the reference reads run for every document.
_MASTER: dict[str, tuple[type[SQLModel], Any]] = {
    "policy": _by(PolicyRow, col(PolicyRow.policy_number)),
    "vendor": _by(VendorRow, func.lower(col(VendorRow.name))),
    "purchase_order": _by(PurchaseOrderRow, col(PurchaseOrderRow.po_number)),
}
# Only documents received before this one: a replay of the first of two duplicates
# must not find the second and change its own outcome.
_DUPLICATE = (
    select(col(BusinessKeyRow.document_id))
    .join(DocumentRow, col(DocumentRow.document_id) == col(BusinessKeyRow.document_id))
    .where(
        col(BusinessKeyRow.key) == bindparam("key"),
        col(BusinessKeyRow.document_id) != bindparam("doc"),
        col(DocumentRow.received_at)
        <= select(col(DocumentRow.received_at))
        .where(col(DocumentRow.document_id) == bindparam("doc"))
        .scalar_subquery(),
    )
    .limit(1)
)


class SqlStore:
    def __init__(
        self, *, engine: AsyncEngine, transactions: Transactions | None = None, reference_ttl_s: float = 30.0
    ) -> None:
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        self._tx = transactions or AsyncTransactions(engine)
        # Master data (policies, vendors, purchase orders) changes rarely and is read
        # for most documents; a short TTL bounds how long a reload takes to show.
        self._master: TTLCache[tuple[str, str], dict[str, Any] | None] = TTLCache(
            maxsize=4096, ttl=reference_ttl_s
        )

    async def seen_offset(self, *, meta: MessageMeta, raw: bytes) -> bool:
        """Whether exactly these bytes were consumed at this position before."""
        return await self._tx.run(lambda c: core.ledger_entry(c, meta, raw) is not None)

    async def pending(self, *, document_id: str) -> list[Outgoing]:
        return await self._tx.run(lambda c: core.pending(c, document_id=document_id))

    async def dead_letter(
        self, *, meta: MessageMeta, raw: bytes, reason: str, error_type: str, message: Outgoing
    ) -> list[Outgoing]:
        digest = content_hash(raw)
        key = f"dlq:{meta.epoch}:{meta.topic}:{meta.partition}:{meta.offset}:{digest}"
        async with self._session() as s:
            # read before the write: the retry that put these bytes here was committed
            # before it published them
            retry_of = await retried_from(s, meta=meta, digest=digest)

        def record(c: Connection) -> None:
            core.insert_rows(
                c,
                DeadLetterRow(
                    epoch=meta.epoch,
                    content_hash=digest,
                    topic=meta.topic,
                    partition=meta.partition,
                    offset=meta.offset,
                    reason=reason,
                    error_type=error_type,
                    original=raw,
                    retry_of=retry_of,
                ),
            )
            existing = core.ledger_entry(c, meta, raw)
            if existing is None:
                core.insert_rows(c, ledger_row(meta, raw, status="deadletter", detail=reason))
            else:  # accepted earlier, then failed in the workflow
                q = update(IngestLedger).where(col(IngestLedger.id) == existing.id)
                c.execute(q.values(status="deadletter", detail=reason))
            core.insert_rows(c, outbox_row(message, dedupe_key=key, document_id=None))

        with contextlib.suppress(IntegrityError):  # dead-lettered before: re-announce below
            await self._tx.run(record)
        return await self._tx.run(lambda c: core.pending(c, key=key))

    async def admit(
        self, *, meta: MessageMeta, raw: bytes, envelope: Envelope[DocumentReceived], document: Document
    ) -> Admission:
        def work(c: Connection) -> Admission:
            return core.admit(c, meta=meta, raw=raw, env=envelope, document=document)

        for _ in range(3):
            try:
                return await self._tx.run(work)
            except IntegrityError:
                continue  # a concurrent delivery of the same document won the race; look again
        raise RuntimeError(f"could not admit {document.document_id}: repeated key conflicts")

    async def _save_outcome(
        self, *, document_id: str, state: dict[str, Any], status: str, rows: Any
    ) -> list[Outgoing]:
        def work(c: Connection) -> list[Outgoing]:
            return core.save_outcome(c, document_id=document_id, state=state, status=status, rows=rows)

        try:
            return await self._tx.run(work)
        except IntegrityError:
            # decided (or sent to review) by an earlier delivery: re-announce
            return await self.pending(document_id=document_id)

    async def save_decision(
        self, *, document_id: str, state: dict[str, Any], decision: DocumentDecided, message: Outgoing
    ) -> list[Outgoing]:
        def rows(received: Any) -> list[SQLModel | Values[Any]]:
            return [
                decision_row(decision, received),
                outbox_row(message, dedupe_key=f"decided:{document_id}", document_id=document_id),
            ]

        return await self._save_outcome(document_id=document_id, state=state, status="decided", rows=rows)

    async def save_review_task(
        self, *, document_id: str, state: dict[str, Any], task: ReviewRequested, message: Outgoing
    ) -> list[Outgoing]:
        def rows(_received: Any) -> list[SQLModel | Values[Any]]:
            return [
                values(
                    ReviewTaskRow,
                    task_id=task.task_id,
                    document_id=document_id,
                    kind=task.kind,
                    priority=task.priority,
                    due_at=task.due_at,
                    reasons=[r.model_dump(mode="json") for r in task.reasons],
                    primary_reason=task.reasons[0].code if task.reasons else "unspecified",
                    queue=task.queue,
                    **scope_columns(task),
                ),
                outbox_row(message, dedupe_key=f"review:{document_id}", document_id=document_id),
            ]

        return await self._save_outcome(document_id=document_id, state=state, status="review", rows=rows)

    async def task(self, *, task_id: str) -> ReviewTaskRecord | None:
        async with self._session() as s:
            row = await s.get(ReviewTaskRow, task_id)
        if row is None:
            return None
        return ReviewTaskRecord(
            task_id=row.task_id,
            document_id=row.document_id,
            status=row.status,
            created_at=row.created_at,
            thread_id=row.thread_id,
        )

    async def complete_review(
        self,
        *,
        meta: MessageMeta,
        raw: bytes,
        review: ReviewCompleted,
        decision: DocumentDecided,
        messages: list[Outgoing],
    ) -> list[Outgoing] | None:
        """None when the task was no longer open: a concurrent completion won."""
        doc_id = review.document_id
        async with self._session() as s:
            try:
                async with s.begin():
                    won = await s.execute(
                        update(ReviewTaskRow)
                        .where(
                            col(ReviewTaskRow.task_id) == review.task_id, col(ReviewTaskRow.status) == "open"
                        )
                        .values(
                            status="completed",
                            outcome=review.outcome,
                            reviewer=review.reviewer,
                            completed_at=utcnow(),
                            assignee=None,
                            lease_expires_at=None,
                        )
                    )
                    if won.rowcount != 1:  # type: ignore[attr-defined]
                        return None
                    s.add(
                        ledger_row(
                            meta, raw, status="accepted", document_id=doc_id, detail="review completed"
                        ).row()
                    )
                    doc = await s.get(DocumentRow, doc_id)
                    if doc is None:
                        raise KeyError(doc_id)
                    doc.status = "decided"
                    s.add(decision_row(decision, doc.received_at).row())
                    s.add_all(
                        CorrectionRow(
                            document_id=doc_id,
                            task_id=review.task_id,
                            field=c.field,
                            old_value=c.old_value,
                            new_value=c.new_value,
                            old_confidence=c.old_confidence,
                            reviewer=review.reviewer,
                        )
                        for c in review.corrections
                    )
                    for i, m in enumerate(messages):
                        row = outbox_row(m, dedupe_key=f"completed:{review.task_id}:{i}", document_id=doc_id)
                        s.add(row.row())
            except IntegrityError:
                return None
        return await self.pending(document_id=doc_id)

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        if outbox_ids:
            await self._tx.run(lambda c: core.mark_emitted(c, outbox_ids))

    async def mark_undeliverable(self, *, outbox_ids: list[int], reason: str) -> None:
        """Record that these messages can never be sent; they are not announced again."""
        if outbox_ids:
            async with self._session() as s, s.begin():
                q = (
                    update(OutboxRow)
                    .where(col(OutboxRow.id).in_(outbox_ids), col(OutboxRow.emitted_at).is_(None))
                    .values(failed_at=utcnow(), failure=reason)
                )
                await s.execute(q)

    async def reference_facts(self, *, extraction: Extraction, document_id: str) -> ReferenceFacts:
        """Master data and earlier documents the rules need, read before they run."""
        v = extraction.value
        wanted: dict[str, str] = {}
        if extraction.kind == "claim" and (pn := v("policy_number")):
            wanted["policy"] = pn
        if extraction.kind == "invoice" and (vendor := v("vendor_name")):
            wanted["vendor"] = vendor.strip().lower()
        if extraction.kind == "invoice" and (po := v("po_number")):
            wanted["purchase_order"] = po
        facts: dict[str, Any] = {}
        missing = {}
        for name, key in wanted.items():
            if (name, key) in self._master:
                facts[name] = self._master[(name, key)]
            else:
                missing[name] = key
        business_key = extraction.business_key()

        def read(c: Connection) -> dict[str, Any]:
            found: dict[str, Any] = {}
            if business_key:
                found["duplicate_of"] = c.execute(
                    _DUPLICATE, {"key": business_key, "doc": document_id}
                ).scalar()
            for name, key in missing.items():
                table, query = _MASTER[name]
                row = c.execute(query, {"key": key}).first()
                found[name] = table.model_validate(dict(row._mapping)).model_dump() if row else None
            return found

        if business_key or missing:
            found = await self._tx.run(read)
            for name, key in missing.items():
                self._master[(name, key)] = found[name]
            facts.update(found)
        return ReferenceFacts(**facts)
