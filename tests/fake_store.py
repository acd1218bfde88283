"""`FakeDocumentStore`: the `agents.ports.DocumentStore` port in memory, with the SQL
store's semantics, so the service layer is tested in milliseconds without a database.

`tests/integration/test_store_conformance.py` runs the same cases against this and
the SQL store on SQLite and PostgreSQL, so the two cannot drift. Each method has no
await inside: under asyncio it is atomic, as a transaction is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from schemas.document import Document
from schemas.events import DocumentDecided, DocumentReceived, Envelope, ReviewCompleted, ReviewRequested
from schemas.fields import Extraction
from schemas.messages import MessageMeta, Outgoing
from schemas.store import Admission, ReviewTaskRecord
from schemas.verdicts import ReferenceFacts


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _payload_hash(doc: DocumentReceived) -> str:
    # The same identity of content as infra.store_rows.payload_hash.
    ocr = "\n".join(ln.text for ln in doc.ocr_lines or [])
    return _sha(f"{doc.kind}\0{doc.text or ''}\0{doc.pdf_base64 or ''}\0{ocr}".encode())


@dataclass
class LedgerEntry:
    position: tuple[str, str, int, int]  # epoch, topic, partition, offset
    content_hash: str
    status: str
    document_id: str | None = None
    event_id: str | None = None
    detail: str | None = None


@dataclass
class StoredDocument:
    event_id: str
    content_hash: str
    kind: str
    status: str = "processing"


@dataclass
class OutboxEntry:
    id: int
    dedupe_key: str
    document_id: str | None
    message: Outgoing
    emitted: bool = False
    failure: str | None = None


@dataclass
class StoredTask:
    record: ReviewTaskRecord
    request: ReviewRequested
    outcome: str | None = None
    reviewer: str | None = None


@dataclass
class FakeDocumentStore:
    """Master data (`policies`, `vendors`, `purchase_orders`) is given as plain dicts."""

    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    purchase_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)
    documents: dict[str, StoredDocument] = field(default_factory=dict)
    decisions: dict[str, DocumentDecided] = field(default_factory=dict)
    tasks: dict[str, StoredTask] = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)
    dead_letters: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)
    corrections: list[tuple[str, str, str | None]] = field(default_factory=list)
    business_keys: dict[str, str] = field(default_factory=dict)

    # -- helpers -----------------------------------------------------------------

    def _entry(self, meta: MessageMeta, raw: bytes) -> LedgerEntry | None:
        position, digest = (meta.epoch, meta.topic, meta.partition, meta.offset), _sha(raw)
        return next((e for e in self.ledger if e.position == position and e.content_hash == digest), None)

    def _record(self, meta: MessageMeta, raw: bytes, status: str, **kw: Any) -> LedgerEntry:
        entry = LedgerEntry((meta.epoch, meta.topic, meta.partition, meta.offset), _sha(raw), status, **kw)
        self.ledger.append(entry)
        return entry

    def _pending(self, *, document_id: str | None = None, key: str | None = None) -> list[Outgoing]:
        rows = [o for o in self.outbox if not o.emitted and o.failure is None]
        rows = [o for o in rows if (o.dedupe_key == key if key is not None else o.document_id == document_id)]
        return [Outgoing(o.message.topic, o.message.key, o.message.value, outbox_id=o.id) for o in rows]

    def _add_outbox(self, message: Outgoing, *, dedupe_key: str, document_id: str | None) -> bool:
        if any(o.dedupe_key == dedupe_key for o in self.outbox):
            return False
        self.outbox.append(OutboxEntry(len(self.outbox) + 1, dedupe_key, document_id, message))
        return True

    def _has_outcome(self, document_id: str) -> bool:
        return document_id in self.decisions or any(
            t.record.document_id == document_id for t in self.tasks.values()
        )

    def _finished_or_resume(self, document_id: str) -> Admission:
        if self._has_outcome(document_id):
            return Admission("done", "redelivered", self._pending(document_id=document_id))
        if document_id not in self.documents:
            return Admission("done", "redelivered after dead-lettering")
        return Admission("resume", "redelivered before an outcome was stored")

    def _results(self, document_id: str, state: dict[str, Any]) -> None:
        key = Extraction.model_validate(state["extraction"]).business_key()
        if key:
            self.business_keys[document_id] = key

    # -- the port ----------------------------------------------------------------

    async def seen_offset(self, *, meta: MessageMeta, raw: bytes) -> bool:
        return self._entry(meta, raw) is not None

    async def dead_letter(
        self, *, meta: MessageMeta, raw: bytes, reason: str, error_type: str, message: Outgoing
    ) -> list[Outgoing]:
        key = f"dlq:{meta.epoch}:{meta.topic}:{meta.partition}:{meta.offset}:{_sha(raw)}"
        if key not in self.dead_letters:
            self.dead_letters[key] = (raw, reason, error_type)
            entry = self._entry(meta, raw)
            if entry is None:
                self._record(meta, raw, "deadletter", detail=reason)
            else:  # accepted earlier, then failed in the workflow
                entry.status, entry.detail = "deadletter", reason
            self._add_outbox(message, dedupe_key=key, document_id=None)
        return self._pending(key=key)

    async def admit(
        self, *, meta: MessageMeta, raw: bytes, envelope: Envelope[DocumentReceived], document: Document
    ) -> Admission:
        doc_id, digest, event_id = document.document_id, _payload_hash(envelope.payload), envelope.event_id
        if self._entry(meta, raw) is not None:
            return self._finished_or_resume(doc_id)
        by_event = next((i for i, d in self.documents.items() if d.event_id == event_id), None)
        if by_event is not None and by_event != doc_id:
            return Admission("conflict", f"event_id {event_id} already used by document {by_event}")
        known = self.documents.get(doc_id)
        if known is not None:
            if known.content_hash != digest:
                return Admission(
                    "conflict", f"document_id {doc_id} was already received with different content"
                )
            why = "duplicate event_id" if known.event_id == event_id else "duplicate document_id"
            detail = f"{why}: already received as event {known.event_id}"
            self._record(meta, raw, "duplicate", document_id=doc_id, event_id=event_id, detail=detail)
            if known.status == "processing":
                return self._finished_or_resume(doc_id)
            return Admission("duplicate", why, self._pending(document_id=doc_id))
        self._record(meta, raw, "accepted", document_id=doc_id, event_id=event_id)
        self.documents[doc_id] = StoredDocument(event_id=event_id, content_hash=digest, kind=document.kind)
        return Admission("new")

    async def pending(self, *, document_id: str) -> list[Outgoing]:
        return self._pending(document_id=document_id)

    async def save_decision(
        self, *, document_id: str, state: dict[str, Any], decision: DocumentDecided, message: Outgoing
    ) -> list[Outgoing]:
        if document_id not in self.decisions:
            self.documents[document_id].status = "decided"
            self._results(document_id, state)
            self.decisions[document_id] = decision
            self._add_outbox(message, dedupe_key=f"decided:{document_id}", document_id=document_id)
        return self._pending(document_id=document_id)

    async def save_review_task(
        self, *, document_id: str, state: dict[str, Any], task: ReviewRequested, message: Outgoing
    ) -> list[Outgoing]:
        taken = task.task_id in self.tasks or any(
            t.record.document_id == document_id for t in self.tasks.values()
        )
        if not taken:
            self.documents[document_id].status = "review"
            self._results(document_id, state)
            record = ReviewTaskRecord(
                task_id=task.task_id, document_id=document_id, status="open", created_at=task.due_at
            )
            self.tasks[task.task_id] = StoredTask(record=record, request=task)
            self._add_outbox(message, dedupe_key=f"review:{document_id}", document_id=document_id)
        return self._pending(document_id=document_id)

    async def task(self, *, task_id: str) -> ReviewTaskRecord | None:
        stored = self.tasks.get(task_id)
        return stored.record if stored is not None else None

    async def complete_review(
        self,
        *,
        meta: MessageMeta,
        raw: bytes,
        review: ReviewCompleted,
        decision: DocumentDecided,
        messages: list[Outgoing],
    ) -> list[Outgoing] | None:
        stored = self.tasks.get(review.task_id)
        doc_id = review.document_id
        if stored is None or stored.record.status != "open" or doc_id in self.decisions:
            return None
        stored.record = ReviewTaskRecord(**{**stored.record.__dict__, "status": "completed"})
        stored.outcome, stored.reviewer = review.outcome, review.reviewer
        self._record(meta, raw, "accepted", document_id=doc_id, detail="review completed")
        self.documents[doc_id].status = "decided"
        self.decisions[doc_id] = decision
        self.corrections += [(review.task_id, c.field, c.new_value) for c in review.corrections]
        for i, m in enumerate(messages):
            self._add_outbox(m, dedupe_key=f"completed:{review.task_id}:{i}", document_id=doc_id)
        return self._pending(document_id=doc_id)

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        for o in self.outbox:
            if o.id in outbox_ids:
                o.emitted = True

    async def mark_undeliverable(self, *, outbox_ids: list[int], reason: str) -> None:
        for o in self.outbox:
            if o.id in outbox_ids and not o.emitted:
                o.failure = reason

    async def reference_facts(self, *, extraction: Extraction, document_id: str) -> ReferenceFacts:
        facts: dict[str, Any] = {}
        v = extraction.value
        if key := extraction.business_key():
            order = list(self.documents)  # admission order stands in for received time
            mine = order.index(document_id) if document_id in order else len(order)
            facts["duplicate_of"] = next(
                (
                    d
                    for d, k in self.business_keys.items()
                    if k == key and d != document_id and d in order and order.index(d) < mine
                ),
                None,
            )
        if extraction.kind == "claim" and (pn := v("policy_number")):
            facts["policy"] = self.policies.get(pn)
        if extraction.kind == "invoice" and (vendor := v("vendor_name")):
            wanted = vendor.strip().lower()
            facts["vendor"] = next((r for n, r in self.vendors.items() if n.lower() == wanted), None)
        if extraction.kind == "invoice" and (po := v("po_number")):
            facts["purchase_order"] = self.purchase_orders.get(po)
        return ReferenceFacts(**facts)
