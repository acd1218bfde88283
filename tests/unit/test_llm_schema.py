"""The strict JSON-schema converter and the answer schemas built from our field models."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from agents.extract.errors import StrictSchemaError
from agents.extract.llm_schema import answer_model, response_schema, strict_json_schema
from schemas.fields import CLAIM_FIELDS, INVOICE_FIELDS, Extraction, InvoiceFields


def _objects(node: Any) -> list[dict[str, Any]]:
    """Every object schema in a tree, wherever it hides ($defs, anyOf, items)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for item in node:
            found += _objects(item)
    return found


def _keys(node: Any, *, skip_property_names: bool = True) -> set[str]:
    keys: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            keys.add(key)
            if key in ("properties", "$defs") and skip_property_names:
                for child in value.values():
                    keys |= _keys(child)
            else:
                keys |= _keys(value)
    elif isinstance(node, list):
        for item in node:
            keys |= _keys(item)
    return keys


def test_every_object_is_closed_and_requires_all_its_properties() -> None:
    schema = strict_json_schema(InvoiceFields)
    objects = _objects(schema)
    assert len(objects) >= 4  # InvoiceFields, ExtractedField, FieldSource, LineItem
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert not {"default", "title"} & _keys(schema)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_fields_with_defaults_become_nullable_and_required_ones_do_not() -> None:
    class Sample(BaseModel):
        must: int
        maybe: str = "x"
        described: int | None = Field(default=None, description="kept")

    props = strict_json_schema(Sample)["properties"]
    assert props["must"] == {"type": "integer"}
    assert props["maybe"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert props["described"]["description"] == "kept"
    assert {"type": "null"} in props["described"]["anyOf"]


def test_property_names_that_look_like_keywords_survive() -> None:
    class Tricky(BaseModel):
        title: str
        default: str

    schema = strict_json_schema(Tricky)
    assert list(schema["properties"]) == ["title", "default"]
    assert schema["required"] == ["title", "default"]


def test_free_form_maps_are_refused() -> None:
    with pytest.raises(StrictSchemaError):
        strict_json_schema(Extraction)


@pytest.mark.parametrize(("kind", "names"), [("invoice", INVOICE_FIELDS), ("claim", CLAIM_FIELDS)])
def test_answer_schema_names_exactly_our_fields_and_puts_reasoning_first(kind, names) -> None:  # type: ignore[no-untyped-def]
    name, schema = response_schema(kind, reasoning=True)
    assert name == f"{kind}_fields"
    assert list(schema["properties"]) == ["reasoning", "fields"]
    values = schema["$defs"][schema["properties"]["fields"]["$ref"].rsplit("/", 1)[-1]]
    assert tuple(values["properties"]) == names
    validator = jsonschema.Draft202012Validator(schema)
    answer = {"reasoning": "r", "fields": dict.fromkeys(names)}
    validator.validate(answer)
    answer_model(kind, reasoning=True).model_validate(answer)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**answer, "decision": "approve"})


def test_claim_type_is_an_enum_and_reasoning_can_be_left_out() -> None:
    _, schema = response_schema("claim", reasoning=False)
    assert list(schema["properties"]) == ["fields"]
    values = schema["$defs"][schema["properties"]["fields"]["$ref"].rsplit("/", 1)[-1]]
    options = values["properties"]["claim_type"]["anyOf"]
    assert {"enum": ["auto", "health", "property", "other"], "type": "string"} in options
