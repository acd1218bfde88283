"""Where any one document stands, whether or not a person ever saw it.

A reviewer asked "what happened to document X?" should not need to know which path it
took: decided straight through (a decision, no task), in review (an open task),
decided after review, dead-lettered (the ledger says so, and the document row may not
exist at all when the input was refused at the edge), or still processing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import DecisionRow, DocumentRow, IngestLedger, ReviewSubmissionRow, ReviewTaskRow
from review.auth import Principal
from review.errors import NotFound
from schemas.reasons import reason_label

State = Literal["decided", "in_review", "dead_lettered", "processing"]


class Reason(BaseModel):
    code: str
    label: str
    message: str = ""


class DocumentStatus(BaseModel):
    document_id: str
    state: State
    kind: str | None = None
    received_at: datetime | None = None
    outcome: str | None = None
    decided_by: str | None = Field(default=None, description="auto (straight through) | human")
    reviewer: str | None = None
    decided_at: datetime | None = None
    reasons: list[Reason] = []
    task: dict[str, Any] | None = None
    dead_letters: list[dict[str, Any]] = []


def _reasons(raw: list[Any]) -> list[Reason]:
    out = []
    for r in raw:
        code = str(r.get("code", "")) if isinstance(r, dict) else str(r)
        message = str(r.get("message", "")) if isinstance(r, dict) else ""
        out.append(Reason(code=code, label=reason_label(code), message=message))
    return out


async def _task(s: AsyncSession, document_id: str) -> dict[str, Any] | None:
    task = (
        # a replay may have sent the document back to review: its newest task is current
        await s.execute(
            select(ReviewTaskRow)
            .where(col(ReviewTaskRow.document_id) == document_id)
            .order_by(col(ReviewTaskRow.created_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if task is None:
        return None
    submitted = await s.get(ReviewSubmissionRow, task.task_id)
    return {
        "task_id": task.task_id,
        "status": task.status,
        "priority": task.priority,
        "due_at": task.due_at,
        "primary_reason": task.primary_reason,
        "assignee": task.assignee,
        "submitted": submitted.outcome if submitted else None,
    }


async def _dead_letters(s: AsyncSession, document_id: str) -> list[dict[str, Any]]:
    q = (
        select(IngestLedger)
        .where(col(IngestLedger.document_id) == document_id, col(IngestLedger.status) == "deadletter")
        .order_by(col(IngestLedger.id))
    )
    return [
        {"at": r.received_at, "topic": r.topic, "partition": r.partition, "offset": r.offset, "why": r.detail}
        for r in (await s.execute(q)).scalars()
    ]


async def document_status(s: AsyncSession, *, document_id: str, actor: Principal) -> DocumentStatus:
    actor.require("reviewer")
    doc = await s.get(DocumentRow, document_id)
    dead = await _dead_letters(s, document_id)
    if doc is None and not dead:
        raise NotFound(
            f"no document {document_id} (input refused before its id was read is only a dead letter)"
        )
    status = DocumentStatus(
        document_id=document_id,
        state="processing",
        kind=doc.kind if doc else None,
        received_at=doc.received_at if doc else None,
        task=await _task(s, document_id),
        dead_letters=dead,
    )
    decision = await s.get(DecisionRow, document_id)
    if decision is not None:
        return status.model_copy(
            update={
                "state": "decided",
                "outcome": decision.outcome,
                "decided_by": decision.decided_by,
                "reviewer": decision.reviewer,
                "decided_at": decision.created_at,
                "reasons": _reasons(decision.reasons),
            }
        )
    if status.task is not None and status.task["status"] == "open":
        return status.model_copy(update={"state": "in_review"})
    if doc is None or dead:
        return status.model_copy(update={"state": "dead_lettered"})
    return status
