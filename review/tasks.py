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
from review.errors import Invalid, NotFound
from review.scopes import Visibility, visible_task
from schemas.events import FieldCorrection
from schemas.fields import DocumentKind, field_names


class FieldThresholds(Protocol):
    """Per (kind, field) confidence thresholds: `agents.routing.RoutingPolicy`, so the
    page flags as low exactly what routing would not let through."""

    def threshold(self, kind: str, field_name: str) -> float: ...


# A field is flagged low below its threshold; a plain number applies to every field.
LowConfidence = float | FieldThresholds


class FieldView(BaseModel):
    name: str
    value: str | None
    confidence: float | None
    raw: str | None = None
    low: bool = False


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
    fields = _fields(task.kind, extraction.result if extraction else {}, low_confidence)
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
    )


def _threshold(low: LowConfidence, kind: str, name: str) -> float:
    return low if isinstance(low, int | float) else low.threshold(kind, name)


def _fields(kind: str, extraction: dict[str, Any], low: LowConfidence) -> list[FieldView]:
    found: dict[str, Any] = extraction.get("fields") or {}
    names = list(field_names(cast(DocumentKind, kind))) if kind in ("invoice", "claim") else []
    names += [n for n in found if n not in names]
    out = []
    for name in names:
        f = found.get(name) or {}
        conf = f.get("confidence")
        out.append(
            FieldView(
                name=name,
                value=f.get("value"),
                raw=f.get("raw"),
                confidence=conf,
                low=conf is None or conf < _threshold(low, kind, name),
            )
        )
    return out


def corrections_for(view: TaskDetail, edits: Mapping[str, str | None]) -> list[FieldCorrection]:
    known = {f.name: f for f in view.fields}
    out = []
    for name, new in edits.items():
        if name not in known:
            raise Invalid(f"unknown field {name!r} for a {view.task['kind']}")
        new = (new or "").strip() or None
        old = known[name]
        if new != ((old.value or "").strip() or None):
            out.append(
                FieldCorrection(field=name, old_value=old.value, new_value=new, old_confidence=old.confidence)
            )
    return out
