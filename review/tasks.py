"""One task: what the reviewer sees, and what their answer becomes.

A completion is one transaction: insert the `review_submissions` row (its primary key
is the task id), publish `review.completed`, commit. A second submitter's insert
fails on that key (PostgreSQL makes it wait for the first to commit), so it never
publishes; a broker that refuses the event rolls the row back, so the reviewer may
retry. The worker, not this package, turns the event into the decision, exactly once.
A task that needs two reviewers publishes only its final answer (review/second.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import (
    DocumentRow,
    ExtractionRow,
    ReviewEventRow,
    ReviewSubmissionRow,
    ReviewTaskRow,
    RuleResultRow,
    TriageRow,
)
from review.auth import Principal
from review.compare import ReviewState, review_state
from review.errors import AlreadySubmitted, Conflict, Invalid, NotFound, NotLeased, PublishFailed, TaskClosed
from review.publish import Publisher
from review.queue import holds_lease, lock_task
from review.second import DoubleReviewPolicy, Stage, judge
from schemas.events import Envelope, FieldCorrection, ReviewCompleted
from schemas.fields import DocumentKind, field_names
from schemas.verdicts import FinalOutcome


class FieldThresholds(Protocol):
    """Per (kind, field) confidence thresholds: `agents.routing.RoutingPolicy`, so the
    page flags as low exactly what routing would not let through."""

    def threshold(self, kind: str, field_name: str) -> float: ...


# A field is flagged low below its threshold; a plain number applies to every field.
LowConfidence = float | FieldThresholds


class FieldView(BaseModel):
    name: str
    value: str | None
    confidence: float | None
    raw: str | None = None
    low: bool = False


class TaskView(BaseModel):
    task: dict[str, Any]
    document: dict[str, Any]
    fields: list[FieldView]
    extraction: dict[str, Any] | None
    triage: dict[str, Any] | None
    rules: dict[str, Any] | None
    submission: dict[str, Any] | None
    review: ReviewState | None = None


class Completion(BaseModel):
    outcome: FinalOutcome
    reason: str = Field(default="", max_length=2000)
    fields: dict[str, str | None] = Field(
        default_factory=dict,
        description="field name → value the reviewer saw fit; unchanged ones are ignored",
    )


def _dump(row: Any, *skip: str) -> dict[str, Any] | None:
    if row is None:
        return None
    return dict(row.model_dump(mode="json", exclude=set(skip)))


def _document(doc: DocumentRow) -> dict[str, Any]:
    out = _dump(doc, "layout", "original_pdf") or {}
    if doc.original_pdf:
        out["pdf_pages"] = 1 + max((int(ln.get("page", 0)) for ln in doc.layout), default=0)
    return out


async def task_view(s: AsyncSession, *, task_id: str, low_confidence: LowConfidence) -> TaskView:
    task = await s.get(ReviewTaskRow, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    doc = await s.get(DocumentRow, task.document_id)
    if doc is None:
        raise NotFound(f"no document {task.document_id}")
    extraction = await s.get(ExtractionRow, task.document_id)
    fields = _fields(task.kind, extraction.result if extraction else {}, low_confidence)
    submission = _dump(await s.get(ReviewSubmissionRow, task_id))
    extracted = {f.name: f.value for f in fields}
    return TaskView(
        task=_dump(task) or {},
        document=_document(doc),
        fields=fields,
        extraction=_dump(extraction),
        triage=_dump(await s.get(TriageRow, task.document_id)),
        rules=_dump(await s.get(RuleResultRow, task.document_id)),
        submission=submission,
        review=await review_state(s, task_id=task_id, extracted=extracted, final=submission is not None),
    )


def _threshold(low: LowConfidence, kind: str, name: str) -> float:
    return low if isinstance(low, int | float) else low.threshold(kind, name)


def _fields(kind: str, extraction: dict[str, Any], low: LowConfidence) -> list[FieldView]:
    found: dict[str, Any] = extraction.get("fields") or {}
    names = list(field_names(cast(DocumentKind, kind))) if kind in ("invoice", "claim") else []
    names += [n for n in found if n not in names]
    out = []
    for name in names:
        f = found.get(name) or {}
        conf = f.get("confidence")
        out.append(
            FieldView(
                name=name,
                value=f.get("value"),
                raw=f.get("raw"),
                confidence=conf,
                low=conf is None or conf < _threshold(low, kind, name),
            )
        )
    return out


def corrections_for(view: TaskView, edits: dict[str, str | None]) -> list[FieldCorrection]:
    known = {f.name: f for f in view.fields}
    out = []
    for name, new in edits.items():
        if name not in known:
            raise Invalid(f"unknown field {name!r} for a {view.task['kind']}")
        new = (new or "").strip() or None
        old = known[name]
        if new != ((old.value or "").strip() or None):
            out.append(
                FieldCorrection(field=name, old_value=old.value, new_value=new, old_confidence=old.confidence)
            )
    return out


@dataclass(frozen=True)
class Submitted:
    """`row` is the published answer; None while the task waits for another reviewer
    (`stage` 'second') or for a lead to reconcile ('reconcile')."""

    task_id: str
    stage: Stage
    row: ReviewSubmissionRow | None


async def submit(
    s: AsyncSession,
    *,
    task_id: str,
    actor: Principal,
    completion: Completion,
    publisher: Publisher,
    topic: str,
    now: datetime,
    low_confidence: LowConfidence,
    policy: DoubleReviewPolicy | None = None,
    require_lease: bool = True,
) -> Submitted:
    if completion.outcome != "approve" and not completion.reason.strip():
        raise Invalid(f"{completion.outcome} needs a reason")
    async with s.begin():
        await lock_task(s, task_id=task_id)
        view = await task_view(s, task_id=task_id, low_confidence=low_confidence)
        task = await s.get(ReviewTaskRow, task_id)
        assert task is not None  # task_view found it in this transaction
        _may_submit(task, view, actor=actor, now=now, require_lease=require_lease)
        verdict = await judge(
            s,
            task=task,
            actor=actor,
            outcome=completion.outcome,
            reason=completion.reason.strip(),
            corrections=corrections_for(view, completion.fields),
            extracted={f.name: f.value for f in view.fields},
            policy=policy or DoubleReviewPolicy(),
            bulk=not require_lease,
        )
        if not verdict.final:
            return Submitted(task_id=task_id, stage=verdict.stage, row=None)
        corrections = verdict.corrections
        payload = ReviewCompleted(
            task_id=task_id,
            document_id=task.document_id,
            reviewer=verdict.reviewer,
            outcome=completion.outcome,
            reason=verdict.reason,
            corrections=corrections,
        )
        envelope = Envelope[ReviewCompleted](
            type="review.completed",
            source="autoclerk-review",
            correlation_id=view.document.get("correlation_id"),
            payload=payload,
        )
        row = ReviewSubmissionRow(
            task_id=task_id,
            document_id=task.document_id,
            reviewer=verdict.reviewer,
            outcome=completion.outcome,
            reason=payload.reason,
            corrections=[c.model_dump(mode="json") for c in corrections],
            event_id=envelope.event_id,
        )
        s.add(row)
        s.add(
            ReviewEventRow(
                task_id=task_id,
                document_id=task.document_id,
                actor=actor.username,
                action="submitted",
                detail={
                    "outcome": completion.outcome,
                    "reviewer": verdict.reviewer,
                    "event_id": envelope.event_id,
                    "fields": [c.field for c in corrections],
                },
            )
        )
        try:
            await s.flush()
        except IntegrityError as exc:
            raise AlreadySubmitted(f"task {task_id} was already submitted") from exc
        try:
            await publisher.publish(
                topic=topic, key=task.document_id.encode(), value=envelope.model_dump_json().encode()
            )
        except Exception as exc:
            raise PublishFailed(f"review.completed not accepted by the broker: {type(exc).__name__}") from exc
    return Submitted(task_id=task_id, stage="final", row=row)


def _may_submit(
    task: ReviewTaskRow, view: TaskView, *, actor: Principal, now: datetime, require_lease: bool
) -> None:
    if view.submission is not None:
        raise AlreadySubmitted(
            f"task {task.task_id} was already submitted by {view.submission['reviewer']}: duplicate refused"
        )
    if task.status != "open":
        raise TaskClosed(f"task {task.task_id} is already {task.status}: late completion refused")
    mine = holds_lease(task, reviewer=actor.username, now=now)
    if require_lease and not mine:
        raise NotLeased(f"task {task.task_id} is not leased by you (or your lease expired)")
    free = task.assignee is None or task.lease_expires_at is None or task.lease_expires_at < now
    if not require_lease and not (mine or free):
        raise NotLeased(f"task {task.task_id} is leased by {task.assignee}")


async def bulk_approve(
    sessions: Any,
    *,
    task_ids: list[str],
    actor: Principal,
    reason: str,
    publisher: Publisher,
    topic: str,
    now: datetime,
    low_confidence: LowConfidence,
    policy: DoubleReviewPolicy | None = None,
) -> dict[str, str]:
    """Approve tasks that share one primary reason, without edits; lead only.

    Each task is its own transaction: one refused task does not undo the others.
    Returns task id → "submitted" or the reason it was refused.
    """
    actor.require("lead")
    if not task_ids:
        raise Invalid("select at least one task")
    async with sessions() as s:
        rows = (
            await s.execute(select(ReviewTaskRow).where(col(ReviewTaskRow.task_id).in_(task_ids)))
        ).scalars()
        reasons = {t.primary_reason for t in rows.all()}
    if len(reasons) > 1:
        raise Invalid(f"bulk approve needs tasks sharing one reason, got {sorted(reasons)}")
    result: dict[str, str] = {}
    for task_id in dict.fromkeys(task_ids):
        async with sessions() as s:
            try:
                await submit(
                    s,
                    task_id=task_id,
                    actor=actor,
                    publisher=publisher,
                    topic=topic,
                    now=now,
                    completion=Completion(outcome="approve", reason=reason),
                    low_confidence=low_confidence,
                    policy=policy,
                    require_lease=False,
                )
                result[task_id] = "submitted"
            except (NotFound, Conflict) as exc:  # refused for this task alone
                result[task_id] = str(exc)
    return result
