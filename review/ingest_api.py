"""`POST /api/documents`: HTTP ingest (review/ingest.py does the work).

One route, four shapes of body, told apart by their headers:

- `application/json`: a `document.received` envelope (the topic's JSON Schema,
  `autoclerk schemas export`), or its bare payload (an envelope is made for it);
- `application/cloudevents+json`, or `ce-*` headers: a CloudEvent (review/cloudevents.py);
- `multipart/form-data`: a PDF as `file`, with `document_id`, `kind` and optionally
  `claim_type`, `queue` and `metadata` (a JSON object of strings).

Only an API token of scope `ingest` may call it (review/deps.py); its size is capped by
review/http_guard.py before the body is read (413).
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from review import cloudevents
from review.deps import Ctx, InboundChecks, IngestActor
from review.errors import RefusedEvent, UnsupportedMedia
from review.http_errors import ApiError
from review.ingest import fingerprint, ingest, wrap_payload
from schemas.events import DocumentReceived, Envelope

router = APIRouter()
FORM_FIELDS = ("document_id", "kind", "claim_type", "queue")


class IngestAnswer(BaseModel):
    event_id: str
    document_id: str
    topic: str
    partition: int | None
    offset: int | None


def _error(description: str) -> dict[str, Any]:
    return {"model": ApiError, "description": description}


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": Envelope[DocumentReceived].model_json_schema()},  # type: ignore[valid-type]
            "application/cloudevents+json": {"schema": {"type": "object"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "document_id", "kind"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "document_id": {"type": "string"},
                        "kind": {"type": "string", "enum": ["invoice", "claim"]},
                        "claim_type": {"type": "string"},
                        "queue": {"type": "string"},
                        "metadata": {"type": "string", "description": "a JSON object of strings"},
                    },
                }
            },
        },
    }
}


@router.post(
    "/api/documents",
    status_code=202,
    response_model=IngestAnswer,
    tags=["ingest"],
    openapi_extra=_BODY,
    responses={
        400: _error("malformed: not JSON, not a CloudEvent, a broken form"),
        409: _error("the Idempotency-Key is in use by a request still in progress"),
        413: _error("over review.max_body_bytes, or over the worker's event or document limits"),
        415: _error("a content type other than JSON, CloudEvents JSON or multipart/form-data"),
        422: _error("refused as the worker would dead-letter it (`error_type`, `reason`), or a reused key"),
        503: _error("the broker did not take the event; nothing was accepted, retry"),
    },
)
async def ingest_document(
    request: Request,
    actor: IngestActor,
    ctx: Ctx,
    inbound: InboundChecks,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Any:
    """Send one document: 202 with its event id once the event is on the topic."""
    raw, seen = await _envelope(request, source=f"http:{actor.username}")
    done = await ingest(
        ctx, inbound=inbound, actor=actor, raw=raw, fingerprint=seen, idempotency_key=idempotency_key
    )
    headers = {"Idempotent-Replayed": "true"} if done.replayed else None
    return JSONResponse(done.answer(), status_code=202, headers=headers)


async def _envelope(request: Request, *, source: str) -> tuple[bytes, str]:
    """The envelope bytes to publish, and the fingerprint of the request as sent."""
    headers = dict(request.headers)
    content_type = headers.get("content-type", "application/json").lower()
    if cloudevents.is_cloudevent(headers):
        body = await request.body()
        ce = [(k, v) for k, v in headers.items() if k.startswith("ce-")]
        return cloudevents.envelope_bytes(headers=headers, body=body), fingerprint(body, items=ce)
    if content_type.startswith("multipart/form-data"):
        payload = await _form_payload(request)
        return wrap_payload(body=payload, source=source), fingerprint(json.dumps(payload, sort_keys=True))
    if "json" not in content_type:
        raise UnsupportedMedia(f"unsupported content type {content_type[:80]!r}")
    body = await request.body()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body, fingerprint(body)  # the decoder gives the reason (400)
    if isinstance(data, dict) and "payload" not in data and "type" not in data:
        return wrap_payload(body=data, source=source), fingerprint(body)
    return body, fingerprint(body)


async def _form_payload(request: Request) -> dict[str, Any]:
    try:
        form = await request.form(max_files=1, max_fields=len(FORM_FIELDS) + 2)
    except MultiPartException as exc:
        raise _malformed(f"not a readable multipart form: {exc.message}") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise _malformed("the form needs the PDF as `file`", status=422)
    payload: dict[str, Any] = {
        name: value for name in FORM_FIELDS if isinstance(value := form.get(name), str) and value
    }
    meta = form.get("metadata")
    if isinstance(meta, str) and meta:
        try:
            payload["metadata"] = json.loads(meta)
        except (ValueError, RecursionError) as exc:
            raise _malformed(f"metadata is not JSON: {exc}") from exc
    payload["pdf_base64"] = base64.b64encode(await upload.read()).decode("ascii")
    return payload


def _malformed(reason: str, *, status: int = 400) -> RefusedEvent:
    return RefusedEvent(error_type="UndecodableEvent", reason=reason, status_code=status)
