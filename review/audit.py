"""The audit trail of one document, in order: what came in, what each model and rule
version concluded, what reviewers did, and the decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import (
    CorrectionRow,
    DecisionRow,
    DocumentRow,
    ExtractionRow,
    IngestLedger,
    ReviewEventRow,
    ReviewSubmissionRow,
    RuleResultRow,
    TriageRow,
)
from review.errors import NotFound
from review.scopes import Visibility, check_document


class AuditEntry(BaseModel):
    at: datetime
    stage: str
    actor: str
    summary: str
    detail: dict[str, Any] = {}


class DocumentAudit(BaseModel):
    document_id: str
    kind: str
    status: str
    entries: list[AuditEntry]


async def document_audit(s: AsyncSession, *, document_id: str, seen: Visibility) -> DocumentAudit:
    await check_document(s, document_id=document_id, seen=seen)
    doc = await s.get(DocumentRow, document_id)
    if doc is None:
        raise NotFound(f"no document {document_id}")
    entries = [
        AuditEntry(
            at=doc.received_at,
            stage="received",
            actor=doc.source,
            summary=f"{doc.kind} received",
            detail={"event_id": doc.event_id, "content_hash": doc.content_hash},
        ),
    ]
    entries += await _ledger(s, document_id)
    entries += await _results(s, document_id)
    for ev in (
        await s.execute(
            select(ReviewEventRow)
            .where(col(ReviewEventRow.document_id) == document_id)
            .order_by(col(ReviewEventRow.id))
        )
    ).scalars():
        entries.append(
            AuditEntry(at=ev.created_at, stage="review", actor=ev.actor, summary=ev.action, detail=ev.detail)
        )
    for c in (
        await s.execute(select(CorrectionRow).where(col(CorrectionRow.document_id) == document_id))
    ).scalars():
        entries.append(
            AuditEntry(
                at=c.created_at,
                stage="correction",
                actor=c.reviewer,
                summary=f"{c.field} corrected",
                detail={"old": c.old_value, "new": c.new_value, "old_confidence": c.old_confidence},
            )
        )
    decision = await s.get(DecisionRow, document_id)
    if decision is not None:
        entries.append(
            AuditEntry(
                at=decision.created_at,
                stage="decision",
                actor=decision.reviewer or decision.decided_by,
                summary=f"{decision.outcome} ({decision.decided_by})",
                detail={"model_versions": decision.model_versions, "rules_version": decision.rules_version},
            )
        )
    entries.sort(key=lambda e: e.at)
    return DocumentAudit(document_id=document_id, kind=doc.kind, status=doc.status, entries=entries)


async def _ledger(s: AsyncSession, document_id: str) -> list[AuditEntry]:
    rows = (
        await s.execute(
            select(IngestLedger)
            .where(col(IngestLedger.document_id) == document_id)
            .order_by(col(IngestLedger.id))
        )
    ).scalars()
    return [
        AuditEntry(
            at=r.received_at,
            stage="ledger",
            actor=r.topic,
            summary=f"{r.status}: {r.topic}[{r.partition}]@{r.offset}",
            detail={"detail": r.detail, "event_id": r.event_id},
        )
        for r in rows
    ]


async def _results(s: AsyncSession, document_id: str) -> list[AuditEntry]:
    out = []
    t = await s.get(TriageRow, document_id)
    if t is not None:
        out.append(
            AuditEntry(
                at=t.created_at,
                stage="triage",
                actor=t.model_version,
                summary=f"predicted {t.predicted_kind}, risk {t.risk:.2f}",
                detail={"model_version": t.model_version},
            )
        )
    e = await s.get(ExtractionRow, document_id)
    if e is not None:
        n = len((e.result or {}).get("fields") or {})
        out.append(
            AuditEntry(
                at=e.created_at,
                stage="extraction",
                actor=e.model_version,
                summary=f"{n} fields" + (f"; failure: {e.failure}" if e.failure else ""),
                detail={"model_version": e.model_version},
            )
        )
    r = await s.get(RuleResultRow, document_id)
    if r is not None:
        out.append(
            AuditEntry(
                at=r.created_at,
                stage="rules",
                actor=r.rules_version,
                summary=f"{r.outcome}: " + ", ".join(x.get("code", "?") for x in r.reasons),
                detail={"rules_version": r.rules_version},
            )
        )
    sub = (
        await s.execute(
            select(ReviewSubmissionRow).where(col(ReviewSubmissionRow.document_id) == document_id)
        )
    ).scalar_one_or_none()
    if sub is not None:
        out.append(
            AuditEntry(
                at=sub.created_at,
                stage="published",
                actor=sub.reviewer,
                summary=f"review.completed {sub.outcome}",
                detail={"event_id": sub.event_id},
            )
        )
    return out
