"""Versioned event envelopes and their payloads.

Envelopes change only by adding optional fields; a breaking change is a new
`schema_version`, and consumers refuse versions they do not know (dead letter)
rather than guess. Upstream producers get these as JSON Schema via
`autoclerk schemas export`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.document import Line, PageSize
from schemas.fields import ClaimType, DocumentKind, Extraction
from schemas.verdicts import FinalOutcome, Outcome, RuleReason, RuleResult, TriageResult

SUPPORTED_SCHEMA_VERSIONS: frozenset[int] = frozenset({1})

EventType = Literal[
    "document.received",
    "document.decided",
    "review.requested",
    "review.completed",
    "feedback.correction",
    "document.deadletter",
]


def _now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return str(uuid.uuid4())


class DocumentReceived(BaseModel):
    """An upstream system hands us a document: text, or a PDF as base64."""

    model_config = ConfigDict(extra="forbid")

    document_id: Annotated[str, Field(min_length=1, max_length=200)]
    kind: DocumentKind
    claim_type: ClaimType | None = None
    text: str | None = None
    pdf_base64: str | None = None
    ocr_lines: list[Line] | None = Field(
        default=None, description="OCR output: lines with boxes (scanned receipts, forms)"
    )
    pages: list[PageSize] = Field(default_factory=list, description="page sizes for ocr_lines")
    metadata: dict[str, str] = Field(default_factory=dict, description="upstream metadata")

    @model_validator(mode="after")
    def _has_content(self) -> DocumentReceived:
        given = [n for n in ("text", "pdf_base64", "ocr_lines") if getattr(self, n) is not None]
        if not given:
            raise ValueError("document needs one of `text`, `pdf_base64`, `ocr_lines`")
        if len(given) > 1:
            raise ValueError(f"document has {' and '.join(given)}; send exactly one")
        return self


class DocumentDecided(BaseModel):
    document_id: str
    kind: DocumentKind
    outcome: FinalOutcome
    decided_by: Literal["auto", "human"]
    reviewer: str | None = None
    reasons: list[RuleReason] = Field(default_factory=list)
    fields: dict[str, str | None] = Field(default_factory=dict)
    model_versions: dict[str, str] = Field(default_factory=dict)
    rules_version: str | None = None


class ReviewRequested(BaseModel):
    task_id: str
    document_id: str
    kind: DocumentKind
    reasons: list[RuleReason]
    priority: int = Field(ge=0, le=100)
    due_at: datetime
    extraction: Extraction | None = None
    triage: TriageResult | None = None
    rules: RuleResult | None = None


class FieldCorrection(BaseModel):
    """A reviewer's change to one field: the unit of training data."""

    field: str
    old_value: str | None
    new_value: str | None
    old_confidence: float | None = None


class ReviewCompleted(BaseModel):
    task_id: str
    document_id: str
    reviewer: str
    outcome: FinalOutcome
    reason: str = ""
    corrections: list[FieldCorrection] = Field(default_factory=list)


class CorrectionRecorded(BaseModel):
    document_id: str
    kind: DocumentKind
    reviewer: str
    corrections: list[FieldCorrection]


class DeadLetter(BaseModel):
    """Bad input, kept whole: the original bytes (base64) and why it was refused."""

    original_base64: str
    reason: str
    error_type: str
    topic: str
    partition: int | None = None
    offset: int | None = None
    event_id: str | None = None


P = TypeVar("P", bound=BaseModel)


class Envelope(BaseModel, Generic[P]):
    """Every event on every topic travels in this envelope."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=200)
    type: EventType
    schema_version: int = 1
    time: datetime = Field(default_factory=_now)
    source: str = Field(default="autoclerk", min_length=1)
    correlation_id: str | None = Field(
        default=None, description="ties every event about one document together"
    )
    payload: P


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "document.received": DocumentReceived,
    "document.decided": DocumentDecided,
    "review.requested": ReviewRequested,
    "review.completed": ReviewCompleted,
    "feedback.correction": CorrectionRecorded,
    "document.deadletter": DeadLetter,
}


def envelope_json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of each envelope type, for upstream producers."""
    return {
        name: Envelope[payload].model_json_schema()  # type: ignore[valid-type]
        for name, payload in EVENT_PAYLOADS.items()
    }


__all__ = [
    "SUPPORTED_SCHEMA_VERSIONS",
    "CorrectionRecorded",
    "DeadLetter",
    "DocumentDecided",
    "DocumentReceived",
    "Envelope",
    "EventType",
    "FieldCorrection",
    "Outcome",
    "ReviewCompleted",
    "ReviewRequested",
    "envelope_json_schemas",
    "new_event_id",
]
