"""Server-rendered pages (Jinja2 + HTMX). Each route parses its form into a command,
calls the handler the JSON API calls too (review/handlers.py), and renders. Document
text reaches templates only through autoescaping."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from review import handlers, queue, second
from review.audit import document_audit
from review.auth import csrf_matches, new_csrf_token
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
from review.dashboard import dashboard
from review.deps import Ctx, CurrentActor, Login, Now, ReadSession, Seen, Templates, csrf_token, url_part
from review.documents import document_status
from review.errors import Forbidden, Invalid, Throttled
from review.login import log_in, log_out
from review.notes import note_text
from review.pdf_pages import page_png
from review.scopes import check_document
from review.tasks import task_detail
from review.trace_view import rule_trace

router = APIRouter(include_in_schema=False)


def _render(
    templates: Templates, request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _go(request: Request, url: str) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.get("/login")
async def login_page(request: Request, templates: Templates) -> HTMLResponse:
    csrf_token(request)
    return _render(templates, request, "login.html", error=None)


@router.post("/login")
async def login(
    request: Request,
    templates: Templates,
    ctx: Ctx,
    policy: Login,
    now: Now,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token_: Annotated[str, Form(alias="csrf_token")] = "",
) -> Response:
    if not csrf_matches(request.session.get("csrf"), csrf_token_):
        raise Forbidden("CSRF token missing or wrong; reload the page")
    try:
        done = await log_in(
            ctx=ctx,
            policy=policy,
            username=username,
            password=password,
            address=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", ""),
            now=now,
        )
    except Throttled as exc:
        page = _render(templates, request, "login.html", status_code=429, error=str(exc))
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if done is None:
        return _render(templates, request, "login.html", status_code=401, error="wrong username or password")
    request.session.clear()
    request.session.update({"sid": done.session_id, "csrf": new_csrf_token()})
    return RedirectResponse("/queue", status_code=303)


@router.post("/logout")
async def logout(request: Request, actor: CurrentActor, ctx: Ctx, now: Now) -> Response:
    if request.session.get("sid"):
        await log_out(ctx=ctx, session_id=str(request.session["sid"]), now=now)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


def _queue_filter(request: Request) -> queue.QueueFilter:
    """The filter form's fields; a bad one is an HTML error, never FastAPI's JSON 422."""
    params = {k: v for k, v in request.query_params.items() if k in queue.QueueFilter.model_fields}
    try:
        return queue.QueueFilter.model_validate(params)
    except ValidationError as exc:
        wrong = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"filter not understood ({wrong})") from exc


@router.get("/queue")
async def queue_page(
    request: Request,
    actor: CurrentActor,
    seen: Seen,
    templates: Templates,
    s: ReadSession,
    now: Now,
    note: str = "",  # a code of review/notes.py; any other text shows nothing
) -> HTMLResponse:
    f = _queue_filter(request)
    rows = await queue.list_tasks(s, f=f, now=now, seen=seen)
    counts = await queue.queue_counts(s, f=f, now=now, seen=seen)
    view: dict[str, Any] = {"rows": rows, "f": f, "counts": counts, "actor": actor, "now": now}
    if request.headers.get("hx-request"):
        return _render(templates, request, "_queue_results.html", **view)
    facets = await queue.queue_facets(s, seen=seen)
    return _render(templates, request, "queue.html", facets=facets, note=note_text(note), **view)


@router.post("/next")
async def next_task(request: Request, actor: CurrentActor, ctx: Ctx, now: Now) -> Response:
    task_id = await handlers.lease_next(LeaseNextTask(actor=actor, at=now), ctx=ctx)
    return _go(request, f"/tasks/{url_part(task_id)}" if task_id else "/queue?note=queue-empty")


@router.get("/tasks/{task_id}")
async def task_page(
    request: Request,
    actor: CurrentActor,
    seen: Seen,
    templates: Templates,
    ctx: Ctx,
    s: ReadSession,
    now: Now,
    task_id: str,
) -> HTMLResponse:
    view = await task_detail(s, task_id=task_id, low_confidence=ctx.low_confidence, seen=seen)
    audit = await document_audit(s, document_id=view.task["document_id"], seen=seen)
    done = await second.answered(s, task_id=task_id, username=actor.username)
    mine = view.task["assignee"] == actor.username and view.task["lease_expires_at"] is not None
    return _render(
        templates,
        request,
        "task.html",
        view=view,
        trace=rule_trace(view.rules["trace"] if view.rules else None),
        audit=audit,
        actor=actor,
        mine=mine,
        now=now,
        answered=done,
    )


@router.post("/tasks/{task_id}/claim")
async def claim(request: Request, actor: CurrentActor, ctx: Ctx, now: Now, task_id: str) -> Response:
    await handlers.claim(ClaimTask(task_id=task_id, actor=actor, at=now), ctx=ctx)
    return _go(request, f"/tasks/{url_part(task_id)}")


@router.post("/tasks/{task_id}/release")
async def release(request: Request, actor: CurrentActor, ctx: Ctx, now: Now, task_id: str) -> Response:
    await handlers.release(ReleaseTask(task_id=task_id, actor=actor, at=now), ctx=ctx)
    return _go(request, "/queue")


@router.post("/tasks/{task_id}/escalate")
async def escalate(
    request: Request, actor: CurrentActor, ctx: Ctx, now: Now, task_id: str, reason: Annotated[str, Form()]
) -> Response:
    await handlers.escalate(EscalateTask(task_id=task_id, actor=actor, reason=reason, at=now), ctx=ctx)
    return _go(request, "/queue")


@router.post("/tasks/{task_id}/reassign")
async def reassign(
    request: Request, actor: CurrentActor, ctx: Ctx, now: Now, task_id: str, assignee: Annotated[str, Form()]
) -> Response:
    await handlers.reassign(ReassignTask(task_id=task_id, actor=actor, assignee=assignee, at=now), ctx=ctx)
    return _go(request, f"/tasks/{url_part(task_id)}")


@router.post("/tasks/{task_id}/complete")
async def complete(
    request: Request, actor: CurrentActor, templates: Templates, ctx: Ctx, now: Now, task_id: str
) -> Response:
    form = await request.form()
    edits = {k[2:]: str(v) for k, v in form.multi_items() if k.startswith("f.")}
    try:
        answer = ReviewAnswer(
            outcome=str(form.get("outcome") or ""),
            reason=str(form.get("reason") or ""),
            fields=edits,  # type: ignore[arg-type]
            reject_kind=str(form.get("reject_kind") or "") or None,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        raise Invalid(
            "outcome must be approve, reject or request_info; a reject's kind business or fields"
        ) from exc
    done = await handlers.submit(
        SubmitReview.answering(answer, task_id=task_id, actor=actor, at=now), ctx=ctx
    )
    if request.headers.get("hx-request"):
        return _render(templates, request, "_submitted.html", row=done.row, stage=done.stage)
    return RedirectResponse(f"/tasks/{url_part(task_id)}", status_code=303)


@router.post("/bulk-approve")
async def bulk_approve(
    request: Request, actor: CurrentActor, templates: Templates, ctx: Ctx, now: Now
) -> HTMLResponse:
    form = await request.form()
    ids = tuple(str(v) for v in form.getlist("task_id"))
    cmd = BulkApproveTasks(task_ids=ids, actor=actor, reason=str(form.get("reason") or ""), at=now)
    result = await handlers.bulk_approve(cmd, ctx=ctx)
    return _render(templates, request, "bulk_result.html", result=result, actor=actor)


@router.get("/documents/{document_id}/pages/{page}.png")
async def document_page(
    actor: CurrentActor,
    seen: Seen,
    ctx: Ctx,
    s: ReadSession,
    document_id: str,
    page: Annotated[int, Path(ge=0, le=9999)],
) -> Response:
    png = await page_png(s, document_id=document_id, page=page, seen=seen, renderer=ctx.pages)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/dashboard")
async def dashboard_page(
    request: Request, actor: CurrentActor, seen: Seen, templates: Templates, s: ReadSession, now: Now
) -> HTMLResponse:
    board = await dashboard(s, now=now, seen=seen)
    return _render(templates, request, "dashboard.html", board=board, actor=actor)


@router.get("/documents")
async def document_lookup(actor: CurrentActor, document_id: Annotated[str, Query()] = "") -> Response:
    """The queue page's look-up form: on to the document's status page."""
    found = document_id.strip()
    return RedirectResponse(f"/documents/{quote(found, safe='')}" if found else "/queue", status_code=303)


@router.get("/documents/{document_id}")
async def document_status_page(
    request: Request, actor: CurrentActor, seen: Seen, templates: Templates, s: ReadSession, document_id: str
) -> HTMLResponse:
    await check_document(s, document_id=document_id, seen=seen)
    status = await document_status(s, document_id=document_id, actor=actor)
    return _render(templates, request, "document.html", status=status, actor=actor)


@router.get("/documents/{document_id}/audit")
async def audit_page(
    request: Request, actor: CurrentActor, seen: Seen, templates: Templates, s: ReadSession, document_id: str
) -> HTMLResponse:
    audit = await document_audit(s, document_id=document_id, seen=seen)
    return _render(templates, request, "audit.html", audit=audit, actor=actor)
