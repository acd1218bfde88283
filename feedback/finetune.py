"""Reviewed documents as OpenAI chat fine-tuning examples for the LLM extractor.

One JSONL line per document: `{"messages": [system, user, assistant]}` where system
and user are exactly what `agents.extract.llm` sends at serving time (same prompt
builder, so a prompt change shows up in both) and the assistant turn is the answer
the strict schema asks for, filled from the gold values.

The schema asks for values "exactly as printed" and we normalise them ourselves, so
the answer uses the printed text where the document prints the gold value (found
with the local extractor's candidate generator: a printed "09/01/2019" for a gold
"2019-01-09"); a gold value not found in print (a reviewer's correction of an OCR
slip, say) is given as the reviewer wrote it. A document whose gold does not label
every field the schema asks for is skipped with its reason: training a model to
answer null for a field nobody checked would teach it to miss what is printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agents.extract.candidates import candidates_for
from agents.extract.llm_schema import answer_model
from agents.extract.prompts import messages
from schemas.document import LabelledDocument
from schemas.fields import field_names
from schemas.values import comparison_key, normalize, shape_of

# Shapes whose printed form differs from the normal form and whose candidates are tight
# spans; code candidates can span a whole form row, so codes keep their normal form.
_PRINTED_SHAPES = frozenset({"date", "amount"})


@dataclass
class FineTuningSet:
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (document id, why)


def printed_value(document: LabelledDocument, name: str, gold: str | None) -> str | None:
    """The text as the document prints `gold`, or `gold` itself when it is not printed."""
    if gold is None or shape_of(name) not in _PRINTED_SHAPES:
        return gold
    key = comparison_key(gold)
    for candidate in candidates_for(shape_of(name), document):
        # Only a span our own normaliser reads back as the gold value: the model is
        # taught text that the serving path turns into exactly the reviewed value.
        if comparison_key(candidate.value) == key and comparison_key(normalize(name, candidate.raw)) == key:
            return candidate.raw
    return gold


def fine_tuning_record(document: LabelledDocument) -> dict[str, Any]:
    """The chat example for one fully labelled document (see `unlabelled_fields`)."""
    values = {
        name: printed_value(document, name, document.gold.get(name)) for name in field_names(document.kind)
    }
    # Validating through the serving answer model keeps export and parsing in step:
    # an example the extractor could not parse back never reaches a training file.
    answer = answer_model(document.kind, reasoning=False).model_validate({"fields": values})
    assistant = {"role": "assistant", "content": answer.model_dump_json()}
    return {"messages": [*messages(document, reasoning=False), assistant]}


# Fields that cannot apply to a claim of another type: null is the right answer there,
# labelled or not (a health claim has no VIN).
_ONLY_FOR: dict[str, str] = {"vehicle": "auto", "vin": "auto", "police_report": "auto",
                             "diagnosis_codes": "health", "procedure_codes": "health"}  # fmt: skip


def unlabelled_fields(document: LabelledDocument) -> list[str]:
    """Fields the schema asks for that the gold neither labels nor rules out."""
    return [
        name
        for name in field_names(document.kind)
        if name not in document.gold
        and not (document.kind == "claim" and _ONLY_FOR.get(name, document.claim_type) != document.claim_type)
    ]


def fine_tuning_set(documents: Iterable[LabelledDocument]) -> FineTuningSet:
    out = FineTuningSet()
    for doc in documents:
        missing = unlabelled_fields(doc)
        if missing:
            out.skipped.append((doc.document_id, f"no gold for {', '.join(missing)}"))
            continue
        out.records.append(fine_tuning_record(doc))
    return out


def write_jsonl(records: Iterable[dict[str, Any]], handle: Any) -> int:
    n = 0
    for record in records:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        n += 1
    return n
