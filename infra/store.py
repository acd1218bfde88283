"""The SQL implementation of the service layer's `DocumentStore`.

Each method is one transaction. Idempotency lives in unique keys: the ledger's
(topic, partition, offset), one decision and one review task per document, and
the outbox's dedupe key. A losing writer rolls back and reports what is already
there, so a redelivery re-announces instead of redoing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from infra.db.tables import (
    BusinessKeyRow,
    CorrectionRow,
    DeadLetterRow,
    DecisionRow,
    DocumentRow,
    ExtractionRow,
    IngestLedger,
    OutboxRow,
    PolicyRow,
    PurchaseOrderRow,
    ReviewTaskRow,
    RuleResultRow,
    TriageRow,
    VendorRow,
    utcnow,
)
from schemas.document import Document, content_hash
from schemas.events import (
    DocumentDecided,
    DocumentReceived,
    Envelope,
    ReviewCompleted,
    ReviewRequested,
)
from schemas.fields import Extraction
from schemas.messages import MessageMeta, Outgoing
from schemas.verdicts import ReferenceFacts


class _Admission:
    # Mirrors agents.ports.Admission structurally; infra may not import agents.
    def __init__(
        self, status: str, detail: str = "", pending: list[Outgoing] | None = None
    ):
        self.status = status
        self.detail = detail
        self.pending = pending or []


def _out(row: OutboxRow) -> Outgoing:
    return Outgoing(topic=row.topic, key=row.key, value=row.value, outbox_id=row.id)


def _ledger(meta: MessageMeta, raw: bytes, **kw: Any) -> IngestLedger:
    return IngestLedger(
        topic=meta.topic,
        partition=meta.partition,
        offset=meta.offset,
        timestamp_ms=meta.timestamp_ms,
        content_hash=content_hash(raw),
        **kw,
    )


def _outbox(msg: Outgoing, *, dedupe_key: str, document_id: str | None) -> OutboxRow:
    return OutboxRow(
        dedupe_key=dedupe_key,
        document_id=document_id,
        topic=msg.topic,
        key=msg.key,
        value=msg.value,
    )


def payload_hash(doc: DocumentReceived) -> str:
    ocr = "\n".join(ln.text for ln in doc.ocr_lines or [])
    return content_hash(f"{doc.kind}\0{doc.text or ''}\0{doc.pdf_base64 or ''}\0{ocr}".encode())


class SqlStore:
    def __init__(self, *, engine: AsyncEngine) -> None:
        self._engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def seen_offset(self, *, meta: MessageMeta) -> bool:
        async with self._session() as s:
            return await self._ledger_row(s, meta) is not None

    async def _ledger_row(
        self, s: AsyncSession, meta: MessageMeta
    ) -> IngestLedger | None:
        q = select(IngestLedger).where(
            IngestLedger.topic == meta.topic,
            IngestLedger.partition == meta.partition,
            IngestLedger.offset == meta.offset,
        )
        return (await s.execute(q)).scalars().first()

    async def _pending(
        self, s: AsyncSession, *, document_id: str | None = None, key: str | None = None
    ) -> list[Outgoing]:
        q = select(OutboxRow).where(OutboxRow.emitted_at.is_(None))  # type: ignore[union-attr]
        q = (
            q.where(OutboxRow.document_id == document_id)
            if key is None
            else q.where(OutboxRow.dedupe_key == key)
        )
        return [_out(r) for r in (await s.execute(q.order_by(OutboxRow.id))).scalars()]  # type: ignore[arg-type]

    async def pending(self, *, document_id: str) -> list[Outgoing]:
        async with self._session() as s:
            return await self._pending(s, document_id=document_id)

    async def dead_letter(
        self,
        *,
        meta: MessageMeta,
        raw: bytes,
        reason: str,
        error_type: str,
        message: Outgoing,
    ) -> list[Outgoing]:
        key = f"dlq:{meta.topic}:{meta.partition}:{meta.offset}"
        async with self._session() as s:
            try:
                async with s.begin():
                    s.add(
                        DeadLetterRow(
                            topic=meta.topic,
                            partition=meta.partition,
                            offset=meta.offset,
                            reason=reason,
                            error_type=error_type,
                            original=raw,
                        )
                    )
                    existing = await self._ledger_row(s, meta)
                    if existing is None:
                        s.add(_ledger(meta, raw, status="deadletter", detail=reason))
                    else:  # accepted earlier, then failed in the workflow
                        existing.status, existing.detail = "deadletter", reason
                    s.add(_outbox(message, dedupe_key=key, document_id=None))
            except IntegrityError:
                pass
            return await self._pending(s, key=key)

    async def admit(
        self,
        *,
        meta: MessageMeta,
        raw: bytes,
        envelope: Envelope[DocumentReceived],
        document: Document,
    ) -> _Admission:
        for _ in range(3):
            try:
                return await self._admit_once(
                    meta=meta, raw=raw, env=envelope, document=document
                )
            except IntegrityError:
                continue  # a concurrent delivery of the same document won the race; look again
        raise RuntimeError(
            f"could not admit {document.document_id}: repeated key conflicts"
        )

    async def _admit_once(
        self,
        *,
        meta: MessageMeta,
        raw: bytes,
        env: Envelope[DocumentReceived],
        document: Document,
    ) -> _Admission:
        doc_id = document.document_id
        digest = payload_hash(env.payload)
        async with self._session() as s, s.begin():
            if await self._ledger_row(s, meta) is not None:
                return await self._finished_or_resume(s, doc_id)
            by_id = await s.get(DocumentRow, doc_id)
            by_event = (
                (
                    await s.execute(
                        select(DocumentRow).where(DocumentRow.event_id == env.event_id)
                    )
                )
                .scalars()
                .first()
            )
            if by_event is not None and by_event.document_id != doc_id:
                return _Admission(
                    "conflict",
                    f"event_id {env.event_id} already used by document {by_event.document_id}",
                )
            if by_id is not None:
                if by_id.content_hash != digest:
                    return _Admission(
                        "conflict",
                        f"document_id {doc_id} was already received with different content",
                    )
                why = (
                    "duplicate event_id"
                    if by_id.event_id == env.event_id
                    else "duplicate document_id"
                )
                s.add(
                    _ledger(
                        meta,
                        raw,
                        status="duplicate",
                        event_id=env.event_id,
                        document_id=doc_id,
                        detail=f"{why}: already received as event {by_id.event_id}",
                    )
                )
                return _Admission(
                    "duplicate", why, await self._pending(s, document_id=doc_id)
                )
            s.add(
                _ledger(
                    meta,
                    raw,
                    status="accepted",
                    event_id=env.event_id,
                    document_id=doc_id,
                )
            )
            s.add(
                DocumentRow(
                    document_id=doc_id,
                    event_id=env.event_id,
                    kind=document.kind,
                    claim_type=document.claim_type,
                    content_hash=digest,
                    text=document.text,
                    layout=[
                        ln.model_dump(mode="json")
                        for ln in document.lines
                        if ln.bbox is not None
                    ],
                    doc_metadata=document.metadata,
                    source=env.source,
                    correlation_id=env.correlation_id,
                )
            )
            return _Admission("new")

    async def _finished_or_resume(self, s: AsyncSession, doc_id: str) -> _Admission:
        done = (
            await s.get(DecisionRow, doc_id) is not None
            or (
                await s.execute(
                    select(ReviewTaskRow.task_id).where(
                        ReviewTaskRow.document_id == doc_id
                    )
                )
            ).first()
            is not None
        )
        if done:
            return _Admission(
                "done", "redelivered", await self._pending(s, document_id=doc_id)
            )
        if await s.get(DocumentRow, doc_id) is None:
            return _Admission("done", "redelivered after dead-lettering")
        return _Admission("resume", "redelivered before an outcome was stored")

    def _add_results(
        self, s: AsyncSession, document_id: str, state: dict[str, Any]
    ) -> None:
        t, e, r = state["triage"], state["extraction"], state["rules"]
        s.add(
            TriageRow(
                document_id=document_id,
                model_version=t["model_version"],
                predicted_kind=t["predicted_kind"],
                risk=t["risk"],
                result=t,
            )
        )
        s.add(
            ExtractionRow(
                document_id=document_id,
                model_version=e["model_version"],
                failure=e.get("failure"),
                result=e,
            )
        )
        s.add(
            RuleResultRow(
                document_id=document_id,
                rules_version=r["rules_version"],
                outcome=r["outcome"],
                reasons=r["reasons"],
                trace=r["trace"],
            )
        )
        key = Extraction.model_validate(e).business_key()
        if key:
            s.add(BusinessKeyRow(key=key, document_id=document_id))

    async def _set_status(
        self, s: AsyncSession, document_id: str, status: str
    ) -> datetime:
        doc = await s.get(DocumentRow, document_id)
        if doc is None:
            raise KeyError(document_id)
        doc.status = status
        return doc.received_at

    async def save_decision(
        self,
        *,
        document_id: str,
        state: dict[str, Any],
        decision: DocumentDecided,
        message: Outgoing,
    ) -> list[Outgoing]:
        async with self._session() as s:
            try:
                async with s.begin():
                    self._add_results(s, document_id, state)
                    received = await self._set_status(s, document_id, "decided")
                    s.add(_decision_row(decision, received))
                    s.add(
                        _outbox(
                            message,
                            dedupe_key=f"decided:{document_id}",
                            document_id=document_id,
                        )
                    )
            except IntegrityError:
                pass
            return await self._pending(s, document_id=document_id)

    async def save_review_task(
        self,
        *,
        document_id: str,
        state: dict[str, Any],
        task: ReviewRequested,
        message: Outgoing,
    ) -> list[Outgoing]:
        async with self._session() as s:
            try:
                async with s.begin():
                    self._add_results(s, document_id, state)
                    await self._set_status(s, document_id, "review")
                    reasons = [r.model_dump(mode="json") for r in task.reasons]
                    s.add(
                        ReviewTaskRow(
                            task_id=task.task_id,
                            document_id=document_id,
                            kind=task.kind,
                            priority=task.priority,
                            due_at=task.due_at,
                            reasons=reasons,
                            primary_reason=task.reasons[0].code
                            if task.reasons
                            else "unspecified",
                        )
                    )
                    s.add(
                        _outbox(
                            message,
                            dedupe_key=f"review:{document_id}",
                            document_id=document_id,
                        )
                    )
            except IntegrityError:
                pass
            return await self._pending(s, document_id=document_id)

    async def task(self, *, task_id: str) -> Any:
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
        doc_id = review.document_id
        async with self._session() as s:
            try:
                async with s.begin():
                    won = await s.execute(
                        update(ReviewTaskRow)
                        .where(
                            ReviewTaskRow.task_id == review.task_id,
                            ReviewTaskRow.status == "open",
                        )  # type: ignore[arg-type]
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
                        _ledger(
                            meta,
                            raw,
                            status="accepted",
                            document_id=doc_id,
                            detail="review completed",
                        )
                    )
                    received = await self._set_status(s, doc_id, "decided")
                    s.add(_decision_row(decision, received))
                    for c in review.corrections:
                        s.add(
                            CorrectionRow(
                                document_id=doc_id,
                                task_id=review.task_id,
                                field=c.field,
                                old_value=c.old_value,
                                new_value=c.new_value,
                                old_confidence=c.old_confidence,
                                reviewer=review.reviewer,
                            )
                        )
                    for i, m in enumerate(messages):
                        s.add(
                            _outbox(
                                m,
                                dedupe_key=f"completed:{review.task_id}:{i}",
                                document_id=doc_id,
                            )
                        )
            except IntegrityError:
                return None
            return await self._pending(s, document_id=doc_id)

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        if not outbox_ids:
            return
        async with self._session() as s, s.begin():
            await s.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(outbox_ids))
                .values(emitted_at=utcnow())  # type: ignore[union-attr]
            )

    async def reference_facts(
        self, *, extraction: Extraction, document_id: str
    ) -> ReferenceFacts:
        facts: dict[str, Any] = {}
        async with self._session() as s:
            key = extraction.business_key()
            if key:
                q = (
                    select(BusinessKeyRow.document_id)
                    .where(
                        BusinessKeyRow.key == key,
                        BusinessKeyRow.document_id != document_id,
                    )
                    .limit(1)
                )
                facts["duplicate_of"] = (await s.execute(q)).scalar()
            if extraction.kind == "claim" and (pn := extraction.value("policy_number")):
                p = await s.get(PolicyRow, pn)
                facts["policy"] = p.model_dump() if p else None
            if extraction.kind == "invoice" and (
                vendor := extraction.value("vendor_name")
            ):
                q2 = select(VendorRow).where(
                    func.lower(VendorRow.name) == vendor.strip().lower()
                )
                v = (await s.execute(q2)).scalars().first()
                facts["vendor"] = v.model_dump() if v else None
            if extraction.kind == "invoice" and (po := extraction.value("po_number")):
                row = await s.get(PurchaseOrderRow, po)
                facts["purchase_order"] = row.model_dump() if row else None
        return ReferenceFacts(**facts)


def _decision_row(d: DocumentDecided, received: datetime) -> DecisionRow:
    now = utcnow()
    if received.tzinfo is None:  # SQLite hands back naive UTC
        received = received.replace(tzinfo=now.tzinfo)
    return DecisionRow(
        document_id=d.document_id,
        outcome=d.outcome,
        decided_by=d.decided_by,
        reviewer=d.reviewer,
        reasons=[r.model_dump(mode="json") for r in d.reasons],
        fields=d.fields,
        model_versions=d.model_versions,
        rules_version=d.rules_version,
        latency_ms=(now - received).total_seconds() * 1000,
        created_at=now,
    )
