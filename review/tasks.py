"""One task as the reviewer sees it, and the corrections their answer makes.

What an answer then becomes (published, or held for a second reviewer) is
review/submission.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db.tables import (
    DocumentRow,
    ExtractionRow,
    ReviewSubmissionRow,
    RuleResultRow,
    TriageRow,
)
from review.compare import ReviewState, review_state
from review.errors import Invalid, InvalidValue, NotFound
from review.evidence import DocLine, document_lines
from review.scopes import Visibility, visible_task
from schemas.catalogue import DEFAULT_INVOICE_SUBTYPE, mandatory
from schemas.events import FieldCorrection
from schemas.fields import DocumentKind, FieldSource, field_names
from schemas.values import normalize, shape_of


class FieldThresholds(Protocol):
    """Per (kind, field) confidence thresholds: `agents.routing.RoutingPolicy`, so the
    page flags as low exactly what routing would not let through."""

    def threshold(self, kind: str, field_name: str) -> float: ...


# A field is flagged low below its threshold; a plain number applies to every field.
LowConfidence = float | FieldThresholds


class FieldView(BaseModel):
    """One field as the page shows it. `low`: a value was read, with a confidence under
    the field's threshold; `missing`: a field this document must have has no value
    (an empty optional field is neither). `shape` is how a typed value is read
    (`schemas.values`); `source` where the value was read, when the extractor knows."""

    name: str
    value: str | None
    confidence: float | None
    raw: str | None = None
    low: bool = False
    missing: bool = False
    required: bool = False
    shape: str = "text"
    source: FieldSource | None = None


class TaskDetail(BaseModel):
    """Everything the reviewer sees of one task: the page's and the API's view."""

    task: dict[str, Any]
    document: dict[str, Any]
    fields: list[FieldView]
    extraction: dict[str, Any] | None
    triage: dict[str, Any] | None
    rules: dict[str, Any] | None
    submission: dict[str, Any] | None
    review: ReviewState | None = None
    lines: list[DocLine] = []  # the document's lines in reading order (review/evidence.py)


def _dump(row: Any, *skip: str) -> dict[str, Any] | None:
    if row is None:
        return None
    return dict(row.model_dump(mode="json", exclude=set(skip)))


def _document(doc: DocumentRow) -> dict[str, Any]:
    out = _dump(doc, "layout", "original_pdf") or {}
    if doc.original_pdf:
        out["pdf_pages"] = 1 + max((int(ln.get("page", 0)) for ln in doc.layout), default=0)
    return out


async def task_detail(
    s: AsyncSession, *, task_id: str, low_confidence: LowConfidence, seen: Visibility
) -> TaskDetail:
    """The task as `seen` may see it: NotFound when it is missing or out of scope."""
    task = await visible_task(s, task_id=task_id, seen=seen)
    doc = await s.get(DocumentRow, task.document_id)
    if doc is None:
        raise NotFound(f"no document {task.document_id}")
    extraction = await s.get(ExtractionRow, task.document_id)
    result = extraction.result if extraction else {}
    fields = _fields(task.kind, result, low_confidence, variant=_variant(doc, result))
    submission = _dump(await s.get(ReviewSubmissionRow, task_id))
    extracted = {f.name: f.value for f in fields}
    return TaskDetail(
        task=_dump(task) or {},
        document=_document(doc),
        fields=fields,
        extraction=_dump(extraction),
        triage=_dump(await s.get(TriageRow, task.document_id)),
        rules=_dump(await s.get(RuleResultRow, task.document_id)),
        submission=submission,
        review=await review_state(s, task_id=task_id, extracted=extracted, final=submission is not None),
        lines=document_lines(doc),
    )


def _variant(doc: DocumentRow, extraction: dict[str, Any]) -> str | None:
    """What decides a document's mandatory fields beyond its kind (`schemas.catalogue`):
    an invoice's subtype, a claim's declared or else extracted type."""
    if doc.kind == "invoice":
        return str((doc.doc_metadata or {}).get("subtype") or DEFAULT_INVOICE_SUBTYPE)
    extracted = ((extraction.get("fields") or {}).get("claim_type") or {}).get("value")
    return doc.claim_type or extracted


def _threshold(low: LowConfidence, kind: str, name: str) -> float:
    return low if isinstance(low, int | float) else low.threshold(kind, name)


def _fields(
    kind: str, extraction: dict[str, Any], low: LowConfidence, *, variant: str | None = None
) -> list[FieldView]:
    found: dict[str, Any] = extraction.get("fields") or {}
    names = list(field_names(cast(DocumentKind, kind))) if kind in ("invoice", "claim") else []
    names += [n for n in found if n not in names]
    required = set(mandatory(kind, variant))
    out = []
    for name in names:
        f = found.get(name) or {}
        value, conf = f.get("value"), f.get("confidence")
        out.append(
            FieldView(
                name=name,
                value=value,
                raw=f.get("raw"),
                confidence=conf,
                low=value is not None and (conf is None or conf < _threshold(low, kind, name)),
                missing=value is None and name in required,
                required=name in required,
                shape=shape_of(name),
                source=FieldSource.model_validate(f["source"]) if f.get("source") else None,
            )
        )
    return out


def typed_value(name: str, text: str | None) -> str | None:
    """A reviewer's value for `name` in the one spelling every stage uses
    (`schemas.values`); None for an empty box; `InvalidValue` when the text holds no
    value of the field's shape (the page checks the same before it sends)."""
    text = (text or "").strip()
    if not text:
        return None
    value = normalize(name, text)
    if value is None:
        raise InvalidValue(name, f"{text!r} is not a valid {shape_of(name)}")
    return value


def corrections_for(view: TaskDetail, edits: Mapping[str, str | None]) -> list[FieldCorrection]:
    known = {f.name: f for f in view.fields}
    out = []
    for name, new in edits.items():
        if name not in known:
            raise Invalid(f"unknown field {name!r} for a {view.task['kind']}")
        new = typed_value(name, new)
        old = known[name]
        if new != ((old.value or "").strip() or None):
            out.append(
                FieldCorrection(field=name, old_value=old.value, new_value=new, old_confidence=old.confidence)
            )
    return out
