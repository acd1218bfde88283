"""Admission: is this message new, a redelivery, a re-send or a conflict?

One transaction's worth of reads and writes on a session the caller opened
(`infra.store.SqlStore.admit`). A message is its bytes at a position of one broker
incarnation, so the ledger is searched by (epoch, topic, partition, offset) and the
bytes' hash decides; a document is its id plus its content hash.
"""

from __future__ import annotations

import base64
import logging

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from infra.db.tables import DecisionRow, DocumentRow, IngestLedger, OutboxRow, ReviewTaskRow
from infra.store_rows import ledger_row, payload_hash, to_outgoing
from schemas.document import Document, content_hash
from schemas.events import DocumentReceived, Envelope
from schemas.messages import MessageMeta, Outgoing
from schemas.store import Admission

log = logging.getLogger(__name__)


async def ledger_entry(s: AsyncSession, meta: MessageMeta, raw: bytes) -> IngestLedger | None:
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


async def pending(
    s: AsyncSession, *, document_id: str | None = None, key: str | None = None
) -> list[Outgoing]:
    q = select(OutboxRow).where(col(OutboxRow.emitted_at).is_(None), col(OutboxRow.failed_at).is_(None))
    if key is None:
        q = q.where(col(OutboxRow.document_id) == document_id)
    else:
        q = q.where(col(OutboxRow.dedupe_key) == key)
    return [to_outgoing(r) for r in (await s.execute(q.order_by(col(OutboxRow.id)))).scalars()]


async def admit_once(
    s: AsyncSession, *, meta: MessageMeta, raw: bytes, env: Envelope[DocumentReceived], document: Document
) -> Admission:
    doc_id, digest = document.document_id, payload_hash(env.payload)
    if await ledger_entry(s, meta, raw) is not None:
        return await finished_or_resume(s, doc_id)
    by_id = await s.get(DocumentRow, doc_id)
    q = select(DocumentRow).where(col(DocumentRow.event_id) == env.event_id)
    by_event = (await s.execute(q)).scalars().first()
    if by_event is not None and by_event.document_id != doc_id:
        return Admission(
            "conflict", f"event_id {env.event_id} already used by document {by_event.document_id}"
        )
    if by_id is not None:
        if by_id.content_hash != digest:
            return Admission("conflict", f"document_id {doc_id} was already received with different content")
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
            return await finished_or_resume(s, doc_id)
        return Admission("duplicate", why, await pending(s, document_id=doc_id))
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


async def finished_or_resume(s: AsyncSession, doc_id: str) -> Admission:
    task = select(ReviewTaskRow.task_id).where(col(ReviewTaskRow.document_id) == doc_id)
    if await s.get(DecisionRow, doc_id) is not None or (await s.execute(task)).first() is not None:
        return Admission("done", "redelivered", await pending(s, document_id=doc_id))
    if await s.get(DocumentRow, doc_id) is None:
        return Admission("done", "redelivered after dead-lettering")
    return Admission("resume", "redelivered before an outcome was stored")
