"""CloudEvents 1.0 over HTTP, mapped onto our `document.received` envelope.

Parsing is the CNCF SDK's (`cloudevents`: both content modes, header decoding, time
parsing), so only the mapping is ours:

    CloudEvent            envelope
    specversion 1.0       schema_version 1
    type                  type (must be `document.received`)
    id                    event_id
    source                source
    time                  time (now when absent)
    correlationid (ext.)  correlation_id
    data (JSON object)    payload (the DocumentReceived schema)

Structured mode: `Content-Type: application/cloudevents+json`, the event in the body.
Binary mode: `ce-specversion`, `ce-type`, `ce-id`, `ce-source` (...) headers, the data in
the body as `application/json`. The envelope bytes that come out are checked like any
other ingest (review/inbound.py); what does not map is a `RefusedEvent` with the
dead-letter path's `UndecodableEvent`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat

from review.errors import RefusedEvent

STRUCTURED = "application/cloudevents+json"
EVENT_TYPE = "document.received"


def is_cloudevent(headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "").lower()
    return content_type.startswith(STRUCTURED) or "ce-specversion" in {k.lower() for k in headers}


def envelope_bytes(*, headers: Mapping[str, str], body: bytes) -> bytes:
    """The `document.received` envelope a CloudEvent request carries, as JSON bytes."""
    ce_headers = {
        k.lower(): v for k, v in headers.items() if k.lower().startswith("ce-") or k.lower() == "content-type"
    }
    try:
        event = from_http(HTTPMessage(headers=ce_headers, body=body), JSONFormat())
    except (BaseCloudEventException, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise _refused(f"not a CloudEvent: {exc}", status=400) from exc
    if event.get_type() != EVENT_TYPE:
        raise _refused(f"CloudEvent type must be {EVENT_TYPE!r}, got {event.get_type()!r}")
    data: Any = event.get_data()
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise _refused(f"CloudEvent data is not JSON: {exc}", status=400) from exc
    if not isinstance(data, dict):
        raise _refused("CloudEvent data must be a JSON object (the document.received payload)")
    when = event.get_time()
    envelope: dict[str, Any] = {
        "event_id": event.get_id(),
        "type": EVENT_TYPE,
        "schema_version": 1,
        "source": event.get_source(),
        "payload": data,
    }
    if when is not None:
        envelope["time"] = when.isoformat()
    correlation = event.get_extension("correlationid")
    if correlation is not None:
        envelope["correlation_id"] = str(correlation)
    return json.dumps(envelope, ensure_ascii=False).encode()


def _refused(reason: str, *, status: int = 422) -> RefusedEvent:
    return RefusedEvent(error_type="UndecodableEvent", reason=reason, status_code=status)
