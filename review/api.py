"""JSON API under /api: the same operations as the pages, for machines and scripts.

Errors come back as `{"detail": ..., "error": ...}` with the status drawn in
review/errors.py; a duplicate or late completion is a 409.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from review import handlers, queue
from review.agreement import Agreement, agreement
from review.audit import DocumentAudit, document_audit
from review.auth import ROLES, Role, create_token, create_user
from review.commands import (
    BulkApproveTasks,
    ClaimTask,
    EscalateTask,
    LeaseNextTask,
    ReassignTask,
    ReleaseTask,
    ReviewAnswer,
    SubmitReview,
)
from review.dashboard import Dashboard, dashboard
from review.deps import Ctx, CurrentActor, Login, Now, ReadSession, Seen
from review.documents import DocumentStatus, document_status
from review.errors import Invalid
from review.scopes import check_document
from review.tasks import TaskDetail, task_detail

router = APIRouter(prefix="/api", tags=["review"])


class Leased(BaseModel):
    task_id: str


class SubmitResponse(BaseModel):
    """What `POST /api/tasks/{id}/complete` answers."""

    task_id: str
    stage: str = Field(
        description="final (published), second (awaits another reviewer), reconcile (awaits a lead)"
    )
    event_id: str | None = Field(description="the review.completed event; None until the answer is final")
    corrections: list[dict[str, Any]]
    reject_kind: str | None = None


class Reassign(BaseModel):
    assignee: str


class Escalate(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class BulkApprove(BaseModel):
    task_ids: list[str] = Field(min_length=1, max_length=500)
    reason: str = ""


class NewUser(BaseModel):
    username: str
    password: str
    role: Role = "reviewer"


class NewToken(BaseModel):
    username: str
    name: str = Field(min_length=1, max_length=100)
    days: int | None = Field(default=None, ge=1, le=3650, description="lifetime; default review.token_days")


@router.get("/me")
async def me(actor: CurrentActor) -> dict[str, str]:
    return {"username": actor.username, "role": actor.role}


@router.get("/tasks", response_model=list[queue.TaskSummary])
async def list_tasks(
    actor: CurrentActor, seen: Seen, s: ReadSession, now: Now, f: Annotated[queue.QueueFilter, Query()]
) -> Any:
    return await queue.list_tasks(s, f=f, now=now, seen=seen)


@router.get("/queue/counts", response_model=queue.QueueCounts)
async def queue_counts(
    actor: CurrentActor, seen: Seen, s: ReadSession, now: Now, f: Annotated[queue.QueueFilter, Query()]
) -> Any:
    """How many tasks the filter matches; per kind, reason and stage, how many would
    match with only that choice changed."""
    return await queue.queue_counts(s, f=f, now=now, seen=seen)


@router.post("/tasks/next", response_model=Leased, responses={204: {"description": "queue empty"}})
async def next_task(actor: CurrentActor, ctx: Ctx, now: Now) -> Any:
    task_id = await handlers.lease_next(LeaseNextTask(actor=actor, at=now), ctx=ctx)
    return Leased(task_id=task_id) if task_id else Response(status_code=204)


@router.get("/tasks/{task_id}", response_model=TaskDetail)
async def get_task(actor: CurrentActor, seen: Seen, ctx: Ctx, s: ReadSession, task_id: str) -> Any:
    return await task_detail(s, task_id=task_id, low_confidence=ctx.low_confidence, seen=seen)


@router.post("/tasks/{task_id}/claim", response_model=Leased)
async def claim(actor: CurrentActor, ctx: Ctx, now: Now, task_id: str) -> Any:
    await handlers.claim(ClaimTask(task_id=task_id, actor=actor, at=now), ctx=ctx)
    return Leased(task_id=task_id)


@router.post("/tasks/{task_id}/release", status_code=204)
async def release(actor: CurrentActor, ctx: Ctx, now: Now, task_id: str) -> None:
    await handlers.release(ReleaseTask(task_id=task_id, actor=actor, at=now), ctx=ctx)


@router.post("/tasks/{task_id}/reassign", status_code=204)
async def reassign(actor: CurrentActor, ctx: Ctx, now: Now, task_id: str, body: Reassign) -> None:
    cmd = ReassignTask(task_id=task_id, actor=actor, assignee=body.assignee, at=now)
    await handlers.reassign(cmd, ctx=ctx)


@router.post("/tasks/{task_id}/escalate", status_code=204)
async def escalate(actor: CurrentActor, ctx: Ctx, now: Now, task_id: str, body: Escalate) -> None:
    await handlers.escalate(EscalateTask(task_id=task_id, actor=actor, reason=body.reason, at=now), ctx=ctx)


@router.post(
    "/tasks/{task_id}/complete",
    response_model=SubmitResponse,
    status_code=202,
    responses={
        403: {"description": "reconciling two differing reviews needs a lead"},
        409: {"description": "not leased by you, already answered by you, already submitted or completed"},
    },
)
async def complete(actor: CurrentActor, ctx: Ctx, now: Now, task_id: str, body: ReviewAnswer) -> Any:
    """Publish `review.completed` (the worker records the decision when it consumes it), or,
    on a task that needs two reviewers, record the answer until the final one is known."""
    done = await handlers.submit(SubmitReview.answering(body, task_id=task_id, actor=actor, at=now), ctx=ctx)
    row = done.row
    return SubmitResponse(
        task_id=task_id,
        stage=done.stage,
        event_id=row.event_id if row else None,
        corrections=row.corrections if row else [],
        reject_kind=row.reject_kind if row else None,
    )


@router.post("/tasks/bulk-approve")
async def bulk_approve(actor: CurrentActor, ctx: Ctx, now: Now, body: BulkApprove) -> dict[str, str]:
    cmd = BulkApproveTasks(task_ids=tuple(body.task_ids), actor=actor, reason=body.reason, at=now)
    return await handlers.bulk_approve(cmd, ctx=ctx)


@router.get("/documents/{document_id}", response_model=DocumentStatus)
async def get_document(actor: CurrentActor, seen: Seen, s: ReadSession, document_id: str) -> Any:
    """Where any document stands: decided (straight through or after review), in
    review, dead-lettered or still processing. Reviewers see the documents of tasks in
    their scopes; leads and admins any."""
    await check_document(s, document_id=document_id, seen=seen)
    return await document_status(s, document_id=document_id, actor=actor)


@router.get("/documents/{document_id}/audit", response_model=DocumentAudit)
async def audit(actor: CurrentActor, seen: Seen, s: ReadSession, document_id: str) -> Any:
    return await document_audit(s, document_id=document_id, seen=seen)


@router.get("/dashboard", response_model=Dashboard)
async def get_dashboard(actor: CurrentActor, seen: Seen, s: ReadSession, now: Now) -> Any:
    return await dashboard(s, now=now, seen=seen)


@router.get("/agreement", response_model=Agreement)
async def get_agreement(
    actor: CurrentActor, s: ReadSession, now: Now, days: Annotated[int, Query(ge=1, le=3650)] = 90
) -> Any:
    """Per field and outcome, how often two independent reviewers agreed."""
    return await agreement(s, since=now - timedelta(days=days))


@router.post("/users", status_code=201)
async def add_user(actor: CurrentActor, ctx: Ctx, login: Login, body: NewUser) -> dict[str, str]:
    actor.require("admin")
    if body.role not in ROLES:
        raise Invalid(f"role must be one of {ROLES}")
    async with ctx.session(write=True) as s:
        await create_user(
            s, username=body.username, password=body.password, role=body.role, hashing=login.hashing
        )
    return {"username": body.username, "role": body.role}


@router.post("/tokens", status_code=201)
async def add_token(actor: CurrentActor, ctx: Ctx, login: Login, now: Now, body: NewToken) -> dict[str, str]:
    """A machine token; shown once. Admins create tokens for anyone, others for themselves.
    It expires after `days` (default review.token_days)."""
    if body.username != actor.username:
        actor.require("admin")
    expires = now + (timedelta(days=body.days) if body.days else login.token_lifetime)
    async with ctx.session(write=True) as s:
        token = await create_token(s, username=body.username, name=body.name, expires_at=expires)
    return {"token": token, "username": body.username, "expires_at": expires.isoformat()}
