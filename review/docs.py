"""/api/docs: Swagger UI from the app's own static files (review/static/swagger), started
by a script file, so the page needs neither a CDN nor an inline script and keeps the
strict CSP of review/app.py. FastAPI's own docs page loads from a CDN and starts with an
inline script; both are blocked by that CSP, so `create_app` turns it off."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from review.deps import Templates

OPENAPI_URL = "/api/openapi.json"
router = APIRouter(include_in_schema=False)


@router.get("/api/docs")
async def api_docs(request: Request, templates: Templates) -> HTMLResponse:
    return templates.TemplateResponse(request, "api_docs.html", {"openapi_url": OPENAPI_URL})
