"""An AsyncAPI 3.0 document for our topics, generated from the event schemas.

One channel per topic (its address the prefixed topic name), one message per event
type whose payload is the envelope's JSON Schema (the same `autoclerk schemas export`
writes), and one operation per direction as autoclerk sees it: it receives
`document.received` from upstream and `review.completed` from the review service, and
sends the rest. Pydantic's `$defs` are hoisted into `components/schemas`, so every
`$ref` resolves inside the one document. Messages are keyed by document id (task id
for review events) in the Kafka binding.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.events import EVENT_PAYLOADS, Envelope
from schemas.messages import Topics

ASYNCAPI_VERSION = "3.0.0"
_REF = "#/components/schemas/{model}"

# event type -> (Topics attribute, autoclerk's action, what the Kafka key is)
CHANNELS: dict[str, tuple[str, Literal["send", "receive"], str]] = {
    "document.received": ("received", "receive", "document_id"),
    "document.decided": ("decided", "send", "document_id"),
    "decision.superseded": ("decided", "send", "document_id"),
    "review.requested": ("review_requested", "send", "document_id"),
    "review.completed": ("review_completed", "receive", "document_id"),
    "feedback.correction": ("corrections", "send", "document_id"),
    "document.deadletter": ("deadletter", "send", "the original message's key, else topic:partition:offset"),
}


def _camel(event_type: str) -> str:
    head, *rest = event_type.replace("_", ".").split(".")
    return head + "".join(part.title() for part in rest)


def asyncapi_document(*, topics: Topics, version: str, bootstrap: str | None = None) -> dict[str, Any]:
    """The document as a dict (write it as JSON or YAML)."""
    envelopes: dict[str, type[BaseModel]] = {
        name: Envelope[payload]  # type: ignore[valid-type]
        for name, payload in EVENT_PAYLOADS.items()
    }
    refs, schema = models_json_schema(
        [(model, "validation") for model in envelopes.values()], ref_template=_REF
    )
    components: dict[str, Any] = dict(schema.get("$defs", {}))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    prefix = topics.received.removesuffix(".documents.received")
    for event_type, model in envelopes.items():
        attr, action, key = CHANNELS[event_type]
        name = _camel(event_type)
        messages[name] = {
            "name": event_type,
            "title": event_type,
            "summary": (EVENT_PAYLOADS[event_type].__doc__ or event_type).strip().split("\n")[0],
            "contentType": "application/json",
            "payload": refs[(model, "validation")],
            "bindings": {"kafka": {"key": {"type": "string", "description": key}}},
        }
        # one channel per topic, named by its unprefixed name: documents.decided carries two events
        channel = _camel(getattr(topics, attr).removeprefix(prefix + "."))
        entry = channels.setdefault(
            channel, {"address": getattr(topics, attr), "title": getattr(topics, attr), "messages": {}}
        )
        entry["messages"][name] = {"$ref": f"#/components/messages/{name}"}
        operations[f"{action}{name[0].upper()}{name[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
        }
    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "autoclerk events",
            "version": version,
            "description": "Topics of one autoclerk deployment (topic prefix "
            f"`{topics.received.removesuffix('.documents.received')}`); payloads are the "
            "versioned event envelopes (schema_version 1).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components, "messages": messages},
    }
    if bootstrap:
        document["servers"] = {"kafka": {"host": bootstrap, "protocol": "kafka"}}
    return document
