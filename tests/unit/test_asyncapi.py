"""`autoclerk schemas export --asyncapi`: an AsyncAPI 3.0 document that the asyncapi3
object model (pydantic, unknown fields refused) accepts, one channel per topic under
the configured prefix, every `$ref` resolving, and every event schema referenced with
the same shape `schemas export` writes."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from autoclerk.cli import app
from schemas.events import EVENT_PAYLOADS, envelope_json_schemas
from schemas.messages import Topics


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.fixture
def document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("AUTOCLERK_KAFKA__TOPIC_PREFIX", "acme")
    monkeypatch.setenv("AUTOCLERK_KAFKA__BOOTSTRAP", "kafka-1:9092")
    out = tmp_path / "asyncapi.json"
    result = CliRunner().invoke(app, ["schemas", "export", "--asyncapi", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return dict(json.loads(out.read_text()))


def test_the_document_is_asyncapi_3(document: dict[str, Any]) -> None:
    with warnings.catch_warnings():  # the model's own field names shadow BaseModel's (its import warns)
        warnings.simplefilter("ignore", UserWarning)
        from asyncapi3.models import AsyncAPI3

    parsed = AsyncAPI3.model_validate(document)
    assert parsed.asyncapi == "3.0.0"
    assert document["servers"] == {"kafka": {"host": "kafka-1:9092", "protocol": "kafka"}}
    for ref in _refs(document):
        assert ref.startswith("#/"), ref
        _resolve(document, ref)  # raises KeyError when it does not resolve


def test_one_channel_per_topic_and_every_event_schema(document: dict[str, Any]) -> None:
    addresses = sorted(c["address"] for c in document["channels"].values())
    assert addresses == sorted(Topics.with_prefix("acme").all())
    exported = envelope_json_schemas()
    messages = document["components"]["messages"]
    assert sorted(m["name"] for m in messages.values()) == sorted(EVENT_PAYLOADS)
    for message in messages.values():
        schema = _resolve(document, message["payload"]["$ref"])
        same = exported[message["name"]]
        assert schema["title"] == same["title"] and schema["required"] == same["required"]
        assert sorted(schema["properties"]) == sorted(same["properties"])
        payload = _resolve(document, schema["properties"]["payload"]["$ref"])
        assert sorted(payload["properties"]) == sorted(EVENT_PAYLOADS[message["name"]].model_fields)
    actions = {op["action"] for op in document["operations"].values()}
    assert actions == {"send", "receive"} and len(document["operations"]) == len(EVENT_PAYLOADS)


def test_without_out_it_prints_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCLERK_KAFKA__TOPIC_PREFIX", "acme")
    result = CliRunner().invoke(app, ["schemas", "export", "--asyncapi"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["channels"]["documentsReceived"]["address"] == "acme.documents.received"
