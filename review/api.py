"""JSON API under /api: the same operations as the pages, for machines and scripts.

Errors come back as `{"detail": ..., "error": ...}` with the status drawn in
review/errors.py; a duplicate or late completion is a 409.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from review import queue, tasks
from review.agreement import Agreement, agreement
from review.app import ctx, principal, submit_completion
from review.audit import DocumentAudit, document_audit
from review.auth import ROLES, Principal, Role, create_token, create_user
from review.dashboard import Dashboard, dashboard
from review.errors import Invalid

router = APIRouter(prefix="/api", tags=["review"])
Actor = Annotated[Principal, Depends(principal)]


class Leased(BaseModel):
    task_id: str


class Submitted(BaseModel):
    task_id: str
    stage: str = Field(
        description="final (published), second (awaits another reviewer), reconcile (awaits a lead)"
    )
    event_id: str | None = Field(description="the review.completed event; None until the answer is final")
    corrections: list[dict[str, Any]]


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


@router.get("/me")
async def me(actor: Actor) -> dict[str, str]:
    return {"username": actor.username, "role": actor.role}


@router.get("/tasks", response_model=list[queue.TaskSummary])
async def list_tasks(request: Request, actor: Actor, f: Annotated[queue.QueueFilter, Query()]) -> Any:
    c = ctx(request)
    async with c.session() as s:
        return await queue.list_tasks(s, f=f, now=c.clock())


@router.post("/tasks/next", response_model=Leased, responses={204: {"description": "queue empty"}})
async def next_task(request: Request, actor: Actor) -> Any:
    c = ctx(request)
    async with c.session(write=True) as s:
        task_id = await queue.next_task(
            s, reviewer=actor.username, now=c.clock(), lease_s=c.lease_s, lead=actor.has("lead")
        )
    return Leased(task_id=task_id) if task_id else Response(status_code=204)


@router.get("/tasks/{task_id}", response_model=tasks.TaskView)
async def get_task(request: Request, actor: Actor, task_id: str) -> Any:
    c = ctx(request)
    async with c.session() as s:
        return await tasks.task_view(s, task_id=task_id, low_confidence=c.low_confidence)


@router.post("/tasks/{task_id}/claim", response_model=Leased)
async def claim(request: Request, actor: Actor, task_id: str) -> Any:
    c = ctx(request)
    async with c.session(write=True) as s:
        await queue.claim(
            s,
            task_id=task_id,
            reviewer=actor.username,
            now=c.clock(),
            lease_s=c.lease_s,
            lead=actor.has("lead"),
        )
    return Leased(task_id=task_id)


@router.post("/tasks/{task_id}/release", status_code=204)
async def release(request: Request, actor: Actor, task_id: str) -> None:
    c = ctx(request)
    async with c.session(write=True) as s:
        await queue.release(s, task_id=task_id, actor=actor, now=c.clock())


@router.post("/tasks/{task_id}/reassign", status_code=204)
async def reassign(request: Request, actor: Actor, task_id: str, body: Reassign) -> None:
    c = ctx(request)
    async with c.session(write=True) as s:
        await queue.reassign(
            s, task_id=task_id, actor=actor, assignee=body.assignee, now=c.clock(), lease_s=c.lease_s
        )


@router.post("/tasks/{task_id}/escalate", status_code=204)
async def escalate(request: Request, actor: Actor, task_id: str, body: Escalate) -> None:
    c = ctx(request)
    async with c.session(write=True) as s:
        await queue.escalate(s, task_id=task_id, actor=actor, reason=body.reason, now=c.clock())


@router.post(
    "/tasks/{task_id}/complete",
    response_model=Submitted,
    status_code=202,
    responses={
        403: {"description": "reconciling two differing reviews needs a lead"},
        409: {"description": "not leased by you, already answered by you, already submitted or completed"},
    },
)
async def complete(request: Request, actor: Actor, task_id: str, body: tasks.Completion) -> Any:
    """Publish `review.completed` (the worker records the decision when it consumes it), or,
    on a task that needs two reviewers, record the answer until the final one is known."""
    done = await submit_completion(request, actor=actor, task_id=task_id, completion=body)
    row = done.row
    return Submitted(
        task_id=task_id,
        stage=done.stage,
        event_id=row.event_id if row else None,
        corrections=row.corrections if row else [],
    )


@router.post("/tasks/bulk-approve")
async def bulk_approve(request: Request, actor: Actor, body: BulkApprove) -> dict[str, str]:
    c = ctx(request)
    async with c.writing():
        return await tasks.bulk_approve(
            c.sessions,
            task_ids=body.task_ids,
            actor=actor,
            reason=body.reason,
            publisher=c.publisher,
            topic=c.topics.review_completed,
            now=c.clock(),
            low_confidence=c.low_confidence,
            policy=c.policy,
        )


@router.get("/documents/{document_id}/audit", response_model=DocumentAudit)
async def audit(request: Request, actor: Actor, document_id: str) -> Any:
    async with ctx(request).session() as s:
        return await document_audit(s, document_id=document_id)


@router.get("/dashboard", response_model=Dashboard)
async def get_dashboard(request: Request, actor: Actor) -> Any:
    c = ctx(request)
    async with c.session() as s:
        return await dashboard(s, now=c.clock())


@router.get("/agreement", response_model=Agreement)
async def get_agreement(
    request: Request, actor: Actor, days: Annotated[int, Query(ge=1, le=3650)] = 90
) -> Any:
    """Per field and outcome, how often two independent reviewers agreed."""
    c = ctx(request)
    async with c.session() as s:
        return await agreement(s, since=c.clock() - timedelta(days=days))


@router.post("/users", status_code=201)
async def add_user(request: Request, actor: Actor, body: NewUser) -> dict[str, str]:
    actor.require("admin")
    if body.role not in ROLES:
        raise Invalid(f"role must be one of {ROLES}")
    async with ctx(request).session(write=True) as s:
        await create_user(s, username=body.username, password=body.password, role=body.role)
    return {"username": body.username, "role": body.role}


@router.post("/tokens", status_code=201)
async def add_token(request: Request, actor: Actor, body: NewToken) -> dict[str, str]:
    """A machine token; shown once. Admins create tokens for anyone, others for themselves."""
    if body.username != actor.username:
        actor.require("admin")
    async with ctx(request).session(write=True) as s:
        token = await create_token(s, username=body.username, name=body.name)
    return {"token": token, "username": body.username}
