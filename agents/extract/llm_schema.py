"""Structured-output schemas for the LLM extractor, generated from our field models.

OpenAI's strict structured outputs (and vLLM/llama.cpp grammars built from the same
JSON schema) accept a subset of JSON Schema: every object lists all its properties
as required, optional values are expressed as nullable, and no object may carry
properties the schema does not name. `strict_json_schema` turns any Pydantic
model's schema into that form, so the answer model below, built from
`InvoiceFields`/`ClaimFields`, stays the single source of truth for field names.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from agents.extract.errors import StrictSchemaError
from schemas.fields import ClaimFields, ClaimType, DocumentKind, InvoiceFields, field_names
from schemas.values import shape_of

# Keywords strict mode rejects or that only cost prompt tokens; never dropped when
# they are property names (see `_strict`).
_DROP = frozenset({"title", "default", "examples"})
_NAMED_CHILDREN = frozenset({"properties", "$defs", "definitions"})


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in strict form: all properties required, values that
    may be omitted made nullable, `additionalProperties: false` on every object.

    Raises `StrictSchemaError` for free-form maps (`dict[str, X]`), which strict mode
    cannot express.
    """
    result = _strict(model.model_json_schema())
    assert isinstance(result, dict)
    return result


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _NAMED_CHILDREN:
            out[key] = {name: _strict(child) for name, child in value.items()}
        elif key not in _DROP:
            out[key] = _strict(value)
    if out.get("type") == "object" or "properties" in out:
        extra = out.get("additionalProperties")
        if isinstance(extra, dict) or (extra is True and not out.get("properties")):
            raise StrictSchemaError(f"free-form object {node.get('title', '')!r} cannot be strict")
        props: dict[str, Any] = out.setdefault("properties", {})
        required = set(node.get("required", []))
        for name, prop in props.items():
            if name not in required and not _nullable(prop):
                props[name] = _make_nullable(prop)
        out["required"] = list(props)
        out["additionalProperties"] = False
    return out


def _nullable(prop: dict[str, Any]) -> bool:
    kind = prop.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_nullable(option) for option in prop.get("anyOf", []))


def _make_nullable(prop: dict[str, Any]) -> dict[str, Any]:
    inner = {k: v for k, v in prop.items() if k != "description"}
    options = inner["anyOf"] if list(inner) == ["anyOf"] else [inner]
    out: dict[str, Any] = {"anyOf": [*options, {"type": "null"}]}
    if "description" in prop:
        out["description"] = prop["description"]
    return out


_HINTS = {
    "date": "the date exactly as printed",
    "amount": "the amount exactly as printed, with its currency symbol if printed beside it",
    "codes": "every code as printed, comma separated",
}


def _description(kind: DocumentKind, name: str) -> str:
    source = InvoiceFields if kind == "invoice" else ClaimFields
    described = source.model_fields[name].description
    text = name.replace("_", " ") + (f" ({described})" if described else "")
    hint = _HINTS.get(shape_of(name), "exactly as printed")
    return f"{text}: {hint}; null when the document does not state it"


@cache
def answer_model(kind: DocumentKind, *, reasoning: bool) -> type[BaseModel]:
    """The Pydantic model of one answer: `reasoning` (first, when asked) and `fields`.

    Values are raw text as printed; we normalise and validate them ourselves, so
    the model is never trusted with formats. `extra="forbid"` makes any key the
    schema does not name (say, a "decision") a validation failure, even from a
    server that ignores `strict`.
    """
    forbid = ConfigDict(extra="forbid")
    values: dict[str, Any] = {
        name: (
            ClaimType | None if name == "claim_type" else str | None,
            Field(description=_description(kind, name)),
        )
        for name in field_names(kind)
    }
    fields_model = create_model(f"{kind.title()}Values", __config__=forbid, **values)
    top: dict[str, Any] = {}
    if reasoning:
        top["reasoning"] = (
            str,
            Field(description="brief: where each mandatory field was found, or why it is absent"),
        )
    top["fields"] = (fields_model, Field(description="the extracted values"))
    return create_model(f"{kind.title()}Answer", __config__=forbid, **top)


def response_schema(kind: DocumentKind, *, reasoning: bool) -> tuple[str, dict[str, Any]]:
    """(name, strict schema) for the `response_format` of one document kind."""
    model = answer_model(kind, reasoning=reasoning)
    return f"{kind}_fields", strict_json_schema(model)
