"""Dead letters for leads: a page (/deadletters) and its JSON twin (/api/deadletters).

List with filters, one dead letter with its decoded payload (always rendered escaped,
never its raw bytes as markup), retry (as it was, or with a fixed payload that must
pass the worker's checks) and discard (with a reason). Leads and admins only: a
reviewer is refused (403), as on /admin. Forms carry the CSRF token like every other
form. The work is review/deadletters.py.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from infra.deadletters import DeadLetterDetail, DeadLetterFilter, DeadLetterView, Status
from review import deadletters
from review.deps import Ctx, CurrentActor, InboundChecks, Now, ReadSession, Templates
from review.errors import Invalid
from review.http_errors import ApiError

router = APIRouter()
DeadLetterId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Text = Annotated[str | None, Query(max_length=200)]
NOTES = {"retried": "retry published", "discarded": "dead letter discarded"}


class DeadLetterShown(BaseModel):
    dead_letter: DeadLetterDetail
    payload: str = Field(description="the original, decoded for reading (JSON indented), never raw bytes")


class RetryIn(BaseModel):
    payload: str | None = Field(
        default=None, max_length=5_000_000, description="a fixed payload to send instead"
    )
    force: bool = Field(default=False, description="retry a dead letter already retried or discarded")
    reason: str | None = Field(default=None, max_length=2000)


class RetryOut(BaseModel):
    dead_letter_id: int
    topic: str
    event_id: str | None
    partition: int | None
    offset: int | None
    edited: bool


class DiscardIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _filter(
    reason: str | None,
    error_type: str | None,
    topic: str | None,
    status: Status | None,
    since: datetime | None,
    until: datetime | None,
    limit: int = 100,
) -> DeadLetterFilter:
    return DeadLetterFilter(
        reason=reason or None,
        error_type=error_type or None,
        topic=topic or None,
        status=status,
        since=since,
        until=until,
        limit=limit,
    )


@router.get("/deadletters", include_in_schema=False)
async def list_page(
    request: Request,
    actor: CurrentActor,
    templates: Templates,
    s: ReadSession,
    reason: Text = None,
    error_type: Text = None,
    topic: Text = None,
    status: Annotated[str, Query(max_length=20)] = "",
    note: str = "",
) -> HTMLResponse:
    chosen: Any = status if status in ("open", "retried", "discarded") else None
    where = _filter(reason, error_type, topic, chosen, None, None)
    rows = await deadletters.find(s, actor=actor, where=where)
    context = {"actor": actor, "rows": rows, "where": where, "note": NOTES.get(note, "")}
    return templates.TemplateResponse(request, "deadletters.html", context)


@router.get("/deadletters/{dead_letter_id}", include_in_schema=False)
async def show_page(
    request: Request, actor: CurrentActor, templates: Templates, s: ReadSession, dead_letter_id: DeadLetterId
) -> HTMLResponse:
    row = await deadletters.show(s, actor=actor, dead_letter_id=dead_letter_id)
    context = {"actor": actor, "row": row, "payload": deadletters.decoded(row.original)}
    return templates.TemplateResponse(request, "deadletter.html", context)


@router.post("/deadletters/{dead_letter_id}/retry", include_in_schema=False)
async def retry_form(
    actor: CurrentActor,
    ctx: Ctx,
    inbound: InboundChecks,
    now: Now,
    dead_letter_id: DeadLetterId,
    payload: Annotated[str, Form(max_length=5_000_000)] = "",
    edited: Annotated[str, Form()] = "",
    force: Annotated[str, Form()] = "",
) -> Response:
    async with ctx.session(write=True) as s:
        await deadletters.retry(
            s,
            actor=actor,
            dead_letter_id=dead_letter_id,
            publisher=ctx.publisher,
            inbound=inbound,
            now=now,
            payload=payload.encode() if edited else None,
            force=bool(force),
        )
    return RedirectResponse(f"/deadletters/{dead_letter_id}?note=retried", status_code=303)


@router.post("/deadletters/{dead_letter_id}/discard", include_in_schema=False)
async def discard_form(
    actor: CurrentActor,
    ctx: Ctx,
    now: Now,
    dead_letter_id: DeadLetterId,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    async with ctx.session(write=True) as s:
        await deadletters.discard(s, actor=actor, dead_letter_id=dead_letter_id, reason=reason, now=now)
    return RedirectResponse("/deadletters?note=discarded", status_code=303)


@router.get("/api/deadletters", response_model=list[DeadLetterView], tags=["deadletters"])
async def list_api(
    actor: CurrentActor,
    s: ReadSession,
    reason: Text = None,
    error_type: Text = None,
    topic: Text = None,
    status: Status | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """Dead letters, newest first (leads): filter by part of the reason, error type,
    source topic, status and creation time [since, until)."""
    where = _filter(reason, error_type, topic, status, since, until, limit)
    return await deadletters.find(s, actor=actor, where=where)


@router.get("/api/deadletters/{dead_letter_id}", response_model=DeadLetterShown, tags=["deadletters"])
async def show_api(actor: CurrentActor, s: ReadSession, dead_letter_id: DeadLetterId) -> Any:
    row = await deadletters.show(s, actor=actor, dead_letter_id=dead_letter_id)
    return DeadLetterShown(dead_letter=row, payload=deadletters.decoded(row.original))


@router.post(
    "/api/deadletters/{dead_letter_id}/retry",
    status_code=202,
    response_model=RetryOut,
    tags=["deadletters"],
    responses={
        409: {"model": ApiError, "description": "already retried or discarded: send force"},
        422: {"model": ApiError, "description": "the fixed payload is refused as the worker would refuse it"},
        503: {"model": ApiError, "description": "the broker did not take it; nothing recorded, retry"},
    },
)
async def retry_api(
    actor: CurrentActor,
    ctx: Ctx,
    inbound: InboundChecks,
    now: Now,
    dead_letter_id: DeadLetterId,
    body: RetryIn,
) -> Any:
    """Re-publish the original bytes (or `payload`, checked as the worker checks it)."""
    async with ctx.session(write=True) as s:
        done = await deadletters.retry(
            s,
            actor=actor,
            dead_letter_id=dead_letter_id,
            publisher=ctx.publisher,
            inbound=inbound,
            now=now,
            payload=None if body.payload is None else body.payload.encode(),
            force=body.force,
            reason=body.reason,
        )
    return RetryOut(**asdict(done))


@router.post(
    "/api/deadletters/{dead_letter_id}/discard",
    status_code=204,
    tags=["deadletters"],
    responses={409: {"model": ApiError, "description": "already discarded"}},
)
async def discard_api(
    actor: CurrentActor, ctx: Ctx, now: Now, dead_letter_id: DeadLetterId, body: DiscardIn
) -> None:
    if not body.reason.strip():
        raise Invalid("a discard needs a reason")
    async with ctx.session(write=True) as s:
        await deadletters.discard(s, actor=actor, dead_letter_id=dead_letter_id, reason=body.reason, now=now)
