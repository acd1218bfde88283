"""One handler per reviewer action, shared by the JSON API (review/api.py) and the
HTML forms (review/pages.py): each edge parses its input into a command
(review/commands.py), calls the handler here and renders what comes back.

A handler opens its own write session (serialised on SQLite, see ReviewContext) and
calls the one domain function that does the work; roles are checked there.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from infra.db.tables import ReviewTaskRow
from review import queue
from review.commands import (
    BulkApproveTasks,
    ClaimTask,
    EscalateTask,
    LeaseNextTask,
    ReassignTask,
    ReleaseTask,
    SubmitReview,
)
from review.context import ReviewContext
from review.errors import Conflict, Invalid, NotFound
from review.submission import SubmitResult, submit_answer


async def lease_next(cmd: LeaseNextTask, *, ctx: ReviewContext) -> str | None:
    """The task id now leased to the actor; None when the queue has nothing for them."""
    async with ctx.session(write=True) as s:
        return await queue.next_task(
            s,
            reviewer=cmd.actor.username,
            now=cmd.at,
            lease_s=ctx.lease_s,
            lead=cmd.actor.has("lead"),
            seen=ctx.scopes.visibility(cmd.actor),
        )


async def claim(cmd: ClaimTask, *, ctx: ReviewContext) -> None:
    async with ctx.session(write=True) as s:
        await queue.claim(
            s,
            task_id=cmd.task_id,
            reviewer=cmd.actor.username,
            now=cmd.at,
            lease_s=ctx.lease_s,
            lead=cmd.actor.has("lead"),
            seen=ctx.scopes.visibility(cmd.actor),
        )


async def release(cmd: ReleaseTask, *, ctx: ReviewContext) -> None:
    async with ctx.session(write=True) as s:
        seen = ctx.scopes.visibility(cmd.actor)
        await queue.release(s, task_id=cmd.task_id, actor=cmd.actor, now=cmd.at, seen=seen)


async def reassign(cmd: ReassignTask, *, ctx: ReviewContext) -> None:
    async with ctx.session(write=True) as s:
        await queue.reassign(
            s,
            task_id=cmd.task_id,
            actor=cmd.actor,
            assignee=cmd.assignee,
            now=cmd.at,
            lease_s=ctx.lease_s,
            scopes=ctx.scopes,
        )


async def escalate(cmd: EscalateTask, *, ctx: ReviewContext) -> None:
    async with ctx.session(write=True) as s:
        seen = ctx.scopes.visibility(cmd.actor)
        await queue.escalate(
            s, task_id=cmd.task_id, actor=cmd.actor, reason=cmd.reason, now=cmd.at, seen=seen
        )


async def submit(cmd: SubmitReview, *, ctx: ReviewContext) -> SubmitResult:
    """Publish `review.completed`, or record the answer until the final one is known."""
    async with ctx.session(write=True) as s:
        return await submit_answer(s, cmd, ctx=ctx)


async def bulk_approve(cmd: BulkApproveTasks, *, ctx: ReviewContext) -> dict[str, str]:
    """Approve tasks that share one primary reason, without edits; lead only.

    Each task is its own transaction: one refused task does not undo the others.
    Returns task id → "submitted" or the reason it was refused.
    """
    cmd.actor.require("lead")
    if not cmd.task_ids:
        raise Invalid("select at least one task")
    async with ctx.writing():
        async with ctx.sessions() as s:
            seen = ctx.scopes.visibility(cmd.actor)
            q = select(col(ReviewTaskRow.primary_reason)).where(
                col(ReviewTaskRow.task_id).in_(cmd.task_ids), seen.tasks()
            )
            reasons = set((await s.execute(q)).scalars().all())
        if len(reasons) > 1:
            raise Invalid(f"bulk approve needs tasks sharing one reason, got {sorted(reasons)}")
        result: dict[str, str] = {}
        for task_id in dict.fromkeys(cmd.task_ids):
            one = SubmitReview(
                task_id=task_id, actor=cmd.actor, outcome="approve", reason=cmd.reason, at=cmd.at, bulk=True
            )
            async with ctx.sessions() as s:
                try:
                    await submit_answer(s, one, ctx=ctx)
                    result[task_id] = "submitted"
                except (NotFound, Conflict) as exc:  # refused for this task alone
                    result[task_id] = str(exc)
    return result
