"""Server-rendered pages (Jinja2 + HTMX). Each route parses, calls one service
function, renders. Document text reaches templates only through autoescaping."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from review import queue, second, tasks
from review.app import csrf_token, ctx, principal, submit_completion
from review.audit import document_audit
from review.auth import Principal, authenticate, csrf_matches, new_csrf_token
from review.dashboard import dashboard
from review.errors import Forbidden, Invalid
from review.pdf_pages import page_png

router = APIRouter(include_in_schema=False)
Actor = Annotated[Principal, Depends(principal)]


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return ctx(request).templates.TemplateResponse(request, name, context, status_code=status_code)


def _go(request: Request, url: str) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    csrf_token(request)
    return _render(request, "login.html", error=None)


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token_: Annotated[str, Form(alias="csrf_token")] = "",
) -> Response:
    if not csrf_matches(request.session.get("csrf"), csrf_token_):
        raise Forbidden("CSRF token missing or wrong; reload the page")
    async with ctx(request).session() as s:
        who = await authenticate(s, username=username, password=password)
    if who is None:
        return _render(request, "login.html", status_code=401, error="wrong username or password")
    request.session.clear()
    request.session.update({"u": who.username, "csrf": new_csrf_token()})
    return RedirectResponse("/queue", status_code=303)


@router.post("/logout")
async def logout(request: Request, actor: Actor) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue")
async def queue_page(
    request: Request, actor: Actor, f: Annotated[queue.QueueFilter, Query()], note: str = ""
) -> HTMLResponse:
    c = ctx(request)
    async with c.session() as s:
        rows = await queue.list_tasks(s, f=f, now=c.clock())
        if request.headers.get("hx-request"):
            return _render(request, "_queue_rows.html", rows=rows, actor=actor, now=c.clock())
        facets = await queue.queue_facets(s)
    return _render(
        request, "queue.html", rows=rows, f=f, facets=facets, actor=actor, now=c.clock(), note=note
    )


@router.post("/next")
async def next_task(request: Request, actor: Actor) -> Response:
    c = ctx(request)
    async with c.session(write=True) as s:
        task_id = await queue.next_task(
            s, reviewer=actor.username, now=c.clock(), lease_s=c.lease_s, lead=actor.has("lead")
        )
    return _go(request, f"/tasks/{task_id}" if task_id else "/queue?note=queue+empty")


@router.get("/tasks/{task_id}")
async def task_page(request: Request, actor: Actor, task_id: str) -> HTMLResponse:
    c = ctx(request)
    async with c.session() as s:
        view = await tasks.task_view(s, task_id=task_id, low_confidence=c.low_confidence)
        audit = await document_audit(s, document_id=view.task["document_id"])
        done = await second.answered(s, task_id=task_id, username=actor.username)
    now = c.clock()
    mine = view.task["assignee"] == actor.username and view.task["lease_expires_at"] is not None
    return _render(
        request, "task.html", view=view, audit=audit, actor=actor, mine=mine, now=now, answered=done
    )


@router.post("/tasks/{task_id}/claim")
async def claim(request: Request, actor: Actor, task_id: str) -> Response:
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
    return _go(request, f"/tasks/{task_id}")


@router.post("/tasks/{task_id}/release")
async def release(request: Request, actor: Actor, task_id: str) -> Response:
    c = ctx(request)
    async with c.session(write=True) as s:
        await queue.release(s, task_id=task_id, actor=actor, now=c.clock())
    return _go(request, "/queue")


@router.post("/tasks/{task_id}/escalate")
async def escalate(request: Request, actor: Actor, task_id: str, reason: Annotated[str, Form()]) -> Response:
    c = ctx(request)
    async with c.session(write=True) as s:
        await queue.escalate(s, task_id=task_id, actor=actor, reason=reason, now=c.clock())
    return _go(request, "/queue")


@router.post("/tasks/{task_id}/reassign")
async def reassign(
    request: Request, actor: Actor, task_id: str, assignee: Annotated[str, Form()]
) -> Response:
    c = ctx(request)
    async with c.session(write=True) as s:
        await queue.reassign(
            s, task_id=task_id, actor=actor, assignee=assignee, now=c.clock(), lease_s=c.lease_s
        )
    return _go(request, f"/tasks/{task_id}")


@router.post("/tasks/{task_id}/complete")
async def complete(request: Request, actor: Actor, task_id: str) -> Response:
    form = await request.form()
    edits = {k[2:]: str(v) for k, v in form.multi_items() if k.startswith("f.")}
    try:
        completion = tasks.Completion(
            outcome=str(form.get("outcome") or ""),
            reason=str(form.get("reason") or ""),
            fields=edits,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        raise Invalid("outcome must be approve, reject or request_info") from exc
    done = await submit_completion(request, actor=actor, task_id=task_id, completion=completion)
    if request.headers.get("hx-request"):
        return _render(request, "_submitted.html", row=done.row, stage=done.stage)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


@router.post("/bulk-approve")
async def bulk_approve(request: Request, actor: Actor) -> HTMLResponse:
    form = await request.form()
    ids = [str(v) for v in form.getlist("task_id")]
    c = ctx(request)
    async with c.writing():
        result = await tasks.bulk_approve(
            c.sessions,
            task_ids=ids,
            actor=actor,
            reason=str(form.get("reason") or ""),
            publisher=c.publisher,
            topic=c.topics.review_completed,
            now=c.clock(),
            low_confidence=c.low_confidence,
            policy=c.policy,
        )
    return _render(request, "bulk_result.html", result=result, actor=actor)


@router.get("/documents/{document_id}/pages/{page}.png")
async def document_page(request: Request, actor: Actor, document_id: str, page: int) -> Response:
    async with ctx(request).session() as s:
        png = await page_png(s, document_id=document_id, page=page)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/dashboard")
async def dashboard_page(request: Request, actor: Actor) -> HTMLResponse:
    c = ctx(request)
    async with c.session() as s:
        board = await dashboard(s, now=c.clock())
    return _render(request, "dashboard.html", board=board, actor=actor)


@router.get("/documents/{document_id}/audit")
async def audit_page(request: Request, actor: Actor, document_id: str) -> HTMLResponse:
    async with ctx(request).session() as s:
        audit = await document_audit(s, document_id=document_id)
    return _render(request, "audit.html", audit=audit, actor=actor)
