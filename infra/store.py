"""The SQL implementation of the service layer's `DocumentStore`.

Each method is one transaction. Idempotency lives in unique keys: the ledger's
(topic, partition, offset), one decision and one review task per document, and
the outbox's dedupe key. A losing writer rolls back and reports what is already
there, so a redelivery re-announces instead of redoing.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col, select

from infra.db.tables import (
    BusinessKeyRow,
    CorrectionRow,
    DeadLetterRow,
    DecisionRow,
    DocumentRow,
    IngestLedger,
    OutboxRow,
    PolicyRow,
    PurchaseOrderRow,
    ReviewTaskRow,
    VendorRow,
    utcnow,
)
from infra.store_rows import add_results, decision_row, ledger_row, outbox_row, payload_hash, to_outgoing
from schemas.document import Document, content_hash
from schemas.events import DocumentDecided, DocumentReceived, Envelope, ReviewCompleted, ReviewRequested
from schemas.fields import Extraction
from schemas.messages import MessageMeta, Outgoing
from schemas.verdicts import ReferenceFacts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admission:
    # The same shape as agents.ports.Admission, which infra may not import.
    status: str
    detail: str = ""
    pending: list[Outgoing] = field(default_factory=list)


class SqlStore:
    def __init__(self, *, engine: AsyncEngine) -> None:
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def seen_offset(self, *, meta: MessageMeta, raw: bytes) -> bool:
        """Whether exactly these bytes were consumed at this position before."""
        async with self._session() as s:
            return await self._ledger_row(s, meta, raw) is not None

    async def _ledger_row(self, s: AsyncSession, meta: MessageMeta, raw: bytes) -> IngestLedger | None:
        # The bytes are part of the identity: after a broker reset or a recreated topic
        # a different message arrives at a known offset, and it is new, not a redelivery.
        q = select(IngestLedger).where(
            col(IngestLedger.epoch) == meta.epoch,
            col(IngestLedger.topic) == meta.topic,
            col(IngestLedger.partition) == meta.partition,
            col(IngestLedger.offset) == meta.offset,
        )
        rows = list((await s.execute(q)).scalars())
        digest = content_hash(raw)
        same = next((r for r in rows if r.content_hash == digest), None)
        if same is None and rows:
            log.warning(
                "%s[%s]@%s (epoch %r) held other bytes before: the broker was reset or the topic "
                "recreated; handling this message as new",
                meta.topic,
                meta.partition,
                meta.offset,
                meta.epoch,
            )
        return same

    async def _pending(
        self, s: AsyncSession, *, document_id: str | None = None, key: str | None = None
    ) -> list[Outgoing]:
        q = select(OutboxRow).where(col(OutboxRow.emitted_at).is_(None), col(OutboxRow.failed_at).is_(None))
        if key is None:
            q = q.where(col(OutboxRow.document_id) == document_id)
        else:
            q = q.where(col(OutboxRow.dedupe_key) == key)
        return [to_outgoing(r) for r in (await s.execute(q.order_by(col(OutboxRow.id)))).scalars()]

    async def pending(self, *, document_id: str) -> list[Outgoing]:
        async with self._session() as s:
            return await self._pending(s, document_id=document_id)

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
                        )
                    )
                    existing = await self._ledger_row(s, meta, raw)
                    if existing is None:
                        s.add(ledger_row(meta, raw, status="deadletter", detail=reason))
                    else:  # accepted earlier, then failed in the workflow
                        existing.status, existing.detail = "deadletter", reason
                    s.add(outbox_row(message, dedupe_key=key, document_id=None))
            except IntegrityError:
                pass  # dead-lettered before this redelivery: re-announce below
            return await self._pending(s, key=key)

    async def admit(
        self, *, meta: MessageMeta, raw: bytes, envelope: Envelope[DocumentReceived], document: Document
    ) -> Admission:
        for _ in range(3):
            try:
                return await self._admit_once(meta=meta, raw=raw, env=envelope, document=document)
            except IntegrityError:
                continue  # a concurrent delivery of the same document won the race; look again
        raise RuntimeError(f"could not admit {document.document_id}: repeated key conflicts")

    async def _admit_once(
        self, *, meta: MessageMeta, raw: bytes, env: Envelope[DocumentReceived], document: Document
    ) -> Admission:
        doc_id, digest = document.document_id, payload_hash(env.payload)
        async with self._session() as s, s.begin():
            if await self._ledger_row(s, meta, raw) is not None:
                return await self._finished_or_resume(s, doc_id)
            by_id = await s.get(DocumentRow, doc_id)
            q = select(DocumentRow).where(col(DocumentRow.event_id) == env.event_id)
            by_event = (await s.execute(q)).scalars().first()
            if by_event is not None and by_event.document_id != doc_id:
                return Admission(
                    "conflict", f"event_id {env.event_id} already used by document {by_event.document_id}"
                )
            if by_id is not None:
                if by_id.content_hash != digest:
                    return Admission(
                        "conflict", f"document_id {doc_id} was already received with different content"
                    )
                why = "duplicate event_id" if by_id.event_id == env.event_id else "duplicate document_id"
                s.add(
                    ledger_row(
                        meta,
                        raw,
                        status="duplicate",
                        event_id=env.event_id,
                        document_id=doc_id,
                        detail=f"{why}: already received as event {by_id.event_id}",
                    )
                )
                if by_id.status == "processing":
                    # Admitted, but no outcome was stored (the worker died mid-workflow and
                    # the broker lost the message): upstream's re-send is the only copy left,
                    # so run the workflow again instead of waiting for one that never comes.
                    return await self._finished_or_resume(s, doc_id)
                return Admission("duplicate", why, await self._pending(s, document_id=doc_id))
            s.add(ledger_row(meta, raw, status="accepted", event_id=env.event_id, document_id=doc_id))
            s.add(
                DocumentRow(
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
                )
            )
            return Admission("new")

    async def _finished_or_resume(self, s: AsyncSession, doc_id: str) -> Admission:
        task = select(ReviewTaskRow.task_id).where(col(ReviewTaskRow.document_id) == doc_id)
        if await s.get(DecisionRow, doc_id) is not None or (await s.execute(task)).first() is not None:
            return Admission("done", "redelivered", await self._pending(s, document_id=doc_id))
        if await s.get(DocumentRow, doc_id) is None:
            return Admission("done", "redelivered after dead-lettering")
        return Admission("resume", "redelivered before an outcome was stored")

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
            return await self._pending(s, document_id=document_id)

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
                        )
                    )
                    s.add(outbox_row(message, dedupe_key=f"review:{document_id}", document_id=document_id))
            except IntegrityError:
                pass
            return await self._pending(s, document_id=document_id)

    async def task(self, *, task_id: str) -> ReviewTaskRow | None:
        async with self._session() as s:
            return await s.get(ReviewTaskRow, task_id)

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
            return await self._pending(s, document_id=doc_id)

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
                q = select(BusinessKeyRow.document_id).where(
                    col(BusinessKeyRow.key) == key, col(BusinessKeyRow.document_id) != document_id
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
