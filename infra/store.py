"""The SQL implementation of the service layer's `DocumentStore`.

Each method is one transaction. Idempotency lives in unique keys: the ledger's
(epoch, topic, partition, offset, content hash), one decision and one review task
per document, and the outbox's dedupe key. A losing writer rolls back and reports
what is already there, so a redelivery re-announces instead of redoing. Admission
(new, redelivery, re-send or conflict) is `infra.store_admission`.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col, select

from infra.db.tables import (
    BusinessKeyRow,
    CorrectionRow,
    DeadLetterRow,
    DocumentRow,
    OutboxRow,
    PolicyRow,
    PurchaseOrderRow,
    ReviewTaskRow,
    VendorRow,
    utcnow,
)
from infra.deadletters import retried_from
from infra.store_admission import admit_once, ledger_entry, pending
from infra.store_rows import add_results, decision_row, ledger_row, outbox_row, scope_columns
from schemas.document import Document, content_hash
from schemas.events import DocumentDecided, DocumentReceived, Envelope, ReviewCompleted, ReviewRequested
from schemas.fields import Extraction
from schemas.messages import MessageMeta, Outgoing
from schemas.store import Admission, ReviewTaskRecord
from schemas.verdicts import ReferenceFacts

log = logging.getLogger(__name__)


class SqlStore:
    def __init__(self, *, engine: AsyncEngine) -> None:
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def seen_offset(self, *, meta: MessageMeta, raw: bytes) -> bool:
        """Whether exactly these bytes were consumed at this position before."""
        async with self._session() as s:
            return await ledger_entry(s, meta, raw) is not None

    async def pending(self, *, document_id: str) -> list[Outgoing]:
        async with self._session() as s:
            return await pending(s, document_id=document_id)

    async def dead_letter(
        self, *, meta: MessageMeta, raw: bytes, reason: str, error_type: str, message: Outgoing
    ) -> list[Outgoing]:
        digest = content_hash(raw)
        key = f"dlq:{meta.epoch}:{meta.topic}:{meta.partition}:{meta.offset}:{digest}"
        async with self._session() as s:
            try:
                async with s.begin():
                    s.add(
                        DeadLetterRow(
                            epoch=meta.epoch,
                            content_hash=digest,
                            topic=meta.topic,
                            partition=meta.partition,
                            offset=meta.offset,
                            reason=reason,
                            error_type=error_type,
                            original=raw,
                            retry_of=await retried_from(s, meta=meta, digest=digest),
                        )
                    )
                    existing = await ledger_entry(s, meta, raw)
                    if existing is None:
                        s.add(ledger_row(meta, raw, status="deadletter", detail=reason))
                    else:  # accepted earlier, then failed in the workflow
                        existing.status, existing.detail = "deadletter", reason
                    s.add(outbox_row(message, dedupe_key=key, document_id=None))
            except IntegrityError:
                pass  # dead-lettered before this redelivery: re-announce below
            return await pending(s, key=key)

    async def admit(
        self, *, meta: MessageMeta, raw: bytes, envelope: Envelope[DocumentReceived], document: Document
    ) -> Admission:
        for _ in range(3):
            try:
                async with self._session() as s, s.begin():
                    return await admit_once(s, meta=meta, raw=raw, env=envelope, document=document)
            except IntegrityError:
                continue  # a concurrent delivery of the same document won the race; look again
        raise RuntimeError(f"could not admit {document.document_id}: repeated key conflicts")

    async def _set_status(self, s: AsyncSession, document_id: str, status: str) -> Any:
        doc = await s.get(DocumentRow, document_id)
        if doc is None:
            raise KeyError(document_id)
        doc.status = status
        return doc.received_at

    async def save_decision(
        self, *, document_id: str, state: dict[str, Any], decision: DocumentDecided, message: Outgoing
    ) -> list[Outgoing]:
        async with self._session() as s:
            try:
                async with s.begin():
                    add_results(s, document_id, state)
                    received = await self._set_status(s, document_id, "decided")
                    s.add(decision_row(decision, received))
                    s.add(outbox_row(message, dedupe_key=f"decided:{document_id}", document_id=document_id))
            except IntegrityError:
                pass  # decided by an earlier delivery: re-announce below
            return await pending(s, document_id=document_id)

    async def save_review_task(
        self, *, document_id: str, state: dict[str, Any], task: ReviewRequested, message: Outgoing
    ) -> list[Outgoing]:
        async with self._session() as s:
            try:
                async with s.begin():
                    add_results(s, document_id, state)
                    await self._set_status(s, document_id, "review")
                    s.add(
                        ReviewTaskRow(
                            task_id=task.task_id,
                            document_id=document_id,
                            kind=task.kind,
                            priority=task.priority,
                            due_at=task.due_at,
                            reasons=[r.model_dump(mode="json") for r in task.reasons],
                            primary_reason=task.reasons[0].code if task.reasons else "unspecified",
                            queue=task.queue,
                            **scope_columns(task),
                        )
                    )
                    s.add(outbox_row(message, dedupe_key=f"review:{document_id}", document_id=document_id))
            except IntegrityError:
                pass
            return await pending(s, document_id=document_id)

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
                        )
                    )
                    s.add(decision_row(decision, await self._set_status(s, doc_id, "decided")))
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
                        s.add(outbox_row(m, dedupe_key=f"completed:{review.task_id}:{i}", document_id=doc_id))
            except IntegrityError:
                return None
            return await pending(s, document_id=doc_id)

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        if outbox_ids:
            async with self._session() as s, s.begin():
                q = update(OutboxRow).where(col(OutboxRow.id).in_(outbox_ids)).values(emitted_at=utcnow())
                await s.execute(q)

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
        facts: dict[str, Any] = {}
        v = extraction.value
        async with self._session() as s:
            if key := extraction.business_key():
                # Only documents received before this one: a replay of the first of two
                # duplicates must not find the second and change its own outcome.
                mine = select(DocumentRow.received_at).where(col(DocumentRow.document_id) == document_id)
                q = (
                    select(BusinessKeyRow.document_id)
                    .join(DocumentRow, col(DocumentRow.document_id) == col(BusinessKeyRow.document_id))
                    .where(
                        col(BusinessKeyRow.key) == key,
                        col(BusinessKeyRow.document_id) != document_id,
                        col(DocumentRow.received_at) <= mine.scalar_subquery(),
                    )
                )
                facts["duplicate_of"] = (await s.execute(q.limit(1))).scalar()
            if extraction.kind == "claim" and (pn := v("policy_number")):
                p = await s.get(PolicyRow, pn)
                facts["policy"] = p.model_dump() if p else None
            if extraction.kind == "invoice" and (vendor := v("vendor_name")):
                q2 = select(VendorRow).where(func.lower(col(VendorRow.name)) == vendor.strip().lower())
                row = (await s.execute(q2)).scalars().first()
                facts["vendor"] = row.model_dump() if row else None
            if extraction.kind == "invoice" and (po := v("po_number")):
                order = await s.get(PurchaseOrderRow, po)
                facts["purchase_order"] = order.model_dump() if order else None
        return ReferenceFacts(**facts)
