"""What a reviewer's answer becomes: published as `review.completed`, or held.

A final answer is one transaction: insert the `review_submissions` row (its primary
key is the task id), publish `review.completed`, commit. A second submitter's insert
fails on that key (PostgreSQL makes it wait for the first to commit), so it never
publishes; a broker that refuses the event rolls the row back, so the reviewer may
retry. The worker, not this package, turns the event into the decision, exactly once.
A task that needs two reviewers publishes only its final answer (review/second.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db.tables import ReviewEventRow, ReviewSubmissionRow, ReviewTaskRow
from review.commands import SubmitReview
from review.context import ReviewContext
from review.errors import AlreadySubmitted, Invalid, NotLeased, PublishFailed, TaskClosed
from review.queue import holds_lease, lock_task
from review.second import ReviewStage, Verdict, judge
from review.tasks import TaskDetail, corrections_for, task_detail
from schemas.events import Envelope, ReviewCompleted


@dataclass(frozen=True)
class SubmitResult:
    """`row` is the published answer; None while the task waits for another reviewer
    (`stage` 'second') or for a lead to reconcile ('reconcile')."""

    task_id: str
    stage: ReviewStage
    row: ReviewSubmissionRow | None


async def submit_answer(s: AsyncSession, cmd: SubmitReview, *, ctx: ReviewContext) -> SubmitResult:
    """Judge and, when final, publish one answer, all in one transaction on `s`."""
    if cmd.outcome != "approve" and not cmd.reason.strip():
        raise Invalid(f"{cmd.outcome} needs a reason")
    if cmd.outcome == "reject" and cmd.reject_kind is None:
        raise Invalid(
            "a reject must say what was wrong: reject_kind 'business' (fields checked and right, "
            "the case is refused) or 'fields' (the data is wrong or unreadable)"
        )
    async with s.begin():
        # Before reading the task: the worker's LLM retry takes the same row lock.
        await lock_task(s, task_id=cmd.task_id)
        seen = ctx.scopes.visibility(cmd.actor)
        view = await task_detail(s, task_id=cmd.task_id, low_confidence=ctx.low_confidence, seen=seen)
        task = await s.get(ReviewTaskRow, cmd.task_id)
        assert task is not None  # task_detail found it in this transaction
        _may_submit(task, view, cmd=cmd)
        verdict = await judge(
            s,
            task=task,
            actor=cmd.actor,
            outcome=cmd.outcome,
            reason=cmd.reason.strip(),
            corrections=corrections_for(view, cmd.fields),
            extracted={f.name: f.value for f in view.fields},
            policy=ctx.policy,
            bulk=cmd.bulk,
            reject_kind=cmd.reject_kind if cmd.outcome == "reject" else None,
        )
        if not verdict.final:
            return SubmitResult(task_id=cmd.task_id, stage=verdict.stage, row=None)
        row = await _publish(s, task=task, view=view, cmd=cmd, verdict=verdict, ctx=ctx)
    return SubmitResult(task_id=cmd.task_id, stage="final", row=row)


async def _publish(
    s: AsyncSession,
    *,
    task: ReviewTaskRow,
    view: TaskDetail,
    cmd: SubmitReview,
    verdict: Verdict,
    ctx: ReviewContext,
) -> ReviewSubmissionRow:
    """Record the final answer, then publish it; the caller's transaction commits both."""
    payload = ReviewCompleted(
        task_id=task.task_id,
        document_id=task.document_id,
        reviewer=verdict.reviewer,
        outcome=cmd.outcome,
        reason=verdict.reason,
        corrections=verdict.corrections,
        reject_kind=verdict.reject_kind if cmd.outcome == "reject" else None,
    )
    envelope = Envelope[ReviewCompleted](
        type="review.completed",
        source="autoclerk-review",
        correlation_id=view.document.get("correlation_id"),
        payload=payload,
    )
    row = _recorded(s, task=task, cmd=cmd, payload=payload, event_id=envelope.event_id)
    try:
        await s.flush()
    except IntegrityError as exc:
        raise AlreadySubmitted(f"task {task.task_id} was already submitted") from exc
    try:
        await ctx.publisher.publish(
            topic=ctx.topic, key=task.document_id.encode(), value=envelope.model_dump_json().encode()
        )
    except Exception as exc:
        raise PublishFailed(f"review.completed not accepted by the broker: {type(exc).__name__}") from exc
    return row


def _recorded(
    s: AsyncSession, *, task: ReviewTaskRow, cmd: SubmitReview, payload: ReviewCompleted, event_id: str
) -> ReviewSubmissionRow:
    row = ReviewSubmissionRow(
        task_id=task.task_id,
        document_id=task.document_id,
        reviewer=payload.reviewer,
        outcome=cmd.outcome,
        reason=payload.reason,
        corrections=[c.model_dump(mode="json") for c in payload.corrections],
        reject_kind=payload.reject_kind,
        event_id=event_id,
    )
    s.add(row)
    s.add(
        ReviewEventRow(
            task_id=task.task_id,
            document_id=task.document_id,
            actor=cmd.actor.username,
            action="submitted",
            detail={
                "outcome": cmd.outcome,
                **({"reject_kind": payload.reject_kind} if payload.reject_kind else {}),
                "reviewer": payload.reviewer,
                "event_id": event_id,
                "fields": [c.field for c in payload.corrections],
            },
        )
    )
    return row


def _may_submit(task: ReviewTaskRow, view: TaskDetail, *, cmd: SubmitReview) -> None:
    if view.submission is not None:
        raise AlreadySubmitted(
            f"task {task.task_id} was already submitted by {view.submission['reviewer']}: duplicate refused"
        )
    if task.status != "open":
        raise TaskClosed(f"task {task.task_id} is already {task.status}: late completion refused")
    mine = holds_lease(task, reviewer=cmd.actor.username, now=cmd.at)
    if not cmd.bulk and not mine:
        raise NotLeased(f"task {task.task_id} is not leased by you (or your lease expired)")
    free = task.assignee is None or task.lease_expires_at is None or task.lease_expires_at < cmd.at
    if cmd.bulk and not (mine or free):
        raise NotLeased(f"task {task.task_id} is leased by {task.assignee}")
