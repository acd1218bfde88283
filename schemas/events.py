"""Versioned event envelopes and their payloads.

Envelopes change only by adding optional fields; a breaking change is a new
`schema_version`, and consumers refuse versions they do not know (dead letter)
rather than guess. Upstream producers get these as JSON Schema via
`autoclerk schemas export`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.document import Line, PageSize
from schemas.fields import ClaimType, DocumentKind, Extraction
from schemas.ids import DocumentId, QueueName
from schemas.verdicts import FinalOutcome, Outcome, RejectKind, RuleReason, RuleResult, TriageResult

SUPPORTED_SCHEMA_VERSIONS: frozenset[int] = frozenset({1})

EventType = Literal[
    "document.received",
    "document.decided",
    "review.requested",
    "review.completed",
    "feedback.correction",
    "document.deadletter",
    "decision.superseded",
]


def _now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return str(uuid.uuid4())


class DocumentReceived(BaseModel):
    """An upstream system hands us a document: text, or a PDF as base64."""

    model_config = ConfigDict(extra="forbid")

    document_id: DocumentId = Field(description="1-128 of A-Z a-z 0-9 . _ : - (schemas/ids.py)")
    kind: DocumentKind
    claim_type: ClaimType | None = None
    queue: QueueName | None = Field(
        default=None, description="the named review queue, should the document need a person"
    )
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


class StoredRecord(BaseModel):
    """A claim check: the database row that holds what an event left out."""

    table: str = Field(description="table name, e.g. `rule_results`")
    key: dict[str, str | int] = Field(description="the row's identity: column → value")
    size_bytes: int | None = Field(default=None, description="size of the full value")
    sha256: str | None = Field(default=None, description="SHA-256 of the full value's bytes")


class Omission(BaseModel):
    """A part of an event shortened or left out to keep the message under the size budget.

    A shortened string ends in `…[truncated: N chars]`, N being its full length.
    """

    path: str = Field(description="the payload field, e.g. `rules.trace`, `fields`, `extraction`")
    action: Literal["truncated", "left_out"]
    size_bytes: int = Field(description="the full part's size as JSON")
    record: StoredRecord | None = Field(default=None, description="where the full value is kept")


class DocumentDecided(BaseModel):
    document_id: str
    kind: DocumentKind
    outcome: FinalOutcome
    decided_by: Literal["auto", "human"]
    reviewer: str | None = None
    reasons: list[RuleReason] = Field(default_factory=list)
    fields: dict[str, str | None] = Field(default_factory=dict)
    model_versions: dict[str, str] = Field(default_factory=dict)
    model_refs: dict[str, str] = Field(
        default_factory=dict,
        description="registry versions that decided: {'extractor': 'extractor/3', 'triage': 'triage/2', …}",
    )
    rules_version: str | None = None
    omitted: list[Omission] = Field(default_factory=list, description="parts cut to fit the size budget")


class DecisionSuperseded(BaseModel):
    """A live replay replaced a document's outcome. Published on the decided topic with
    the document id as key, so it reaches each partition's consumers in order with the
    `document.decided` or `review.requested` that replaces it (same transaction)."""

    document_id: str
    replay_id: str
    previous_outcome: str = Field(description="approve | reject | review (an open task closed)")
    previous_decided_by: Literal["auto", "human"] | None = None
    previous_decision: int | None = Field(default=None, description="its `decision_history` row")
    closed_task_id: str | None = Field(default=None, description="the open review task closed")
    replacement: Literal["decision", "review"]
    new_outcome: str = Field(description="approve | reject | review")
    reason: str


class ReviewRequested(BaseModel):
    """A document needs a person. `rules` is a summary (outcome, reasons, version): the
    engine's trace stays in the database (`omitted` says where), as it can be many times
    the size of the document."""

    task_id: str
    document_id: str
    kind: DocumentKind
    claim_type: ClaimType | None = None
    queue: str | None = Field(default=None, description="the named review queue upstream asked for")
    reasons: list[RuleReason]
    priority: int = Field(ge=0, le=100)
    due_at: datetime
    extraction: Extraction | None = None
    triage: TriageResult | None = None
    rules: RuleResult | None = None
    omitted: list[Omission] = Field(default_factory=list, description="parts cut to fit the size budget")


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
    reject_kind: RejectKind | None = Field(
        default=None,
        description="on a reject: business (fields checked and right, case refused) or fields "
        "(data wrong or unreadable); None otherwise, and on events from before it existed",
    )


class CorrectionRecorded(BaseModel):
    document_id: str
    kind: DocumentKind
    reviewer: str
    corrections: list[FieldCorrection]
    omitted: list[Omission] = Field(default_factory=list, description="parts cut to fit the size budget")


class DeadLetter(BaseModel):
    """Bad input and why it was refused, with the original bytes (base64) when the whole
    message fits the size budget. Otherwise `original_base64` is empty, `original_omitted`
    is set and `original_record` names the `dead_letters` row that keeps the bytes (None
    when the edge refused the input without storing it: then only the source topic has it,
    at `topic`/`partition`/`offset`)."""

    original_base64: str
    reason: str
    error_type: str
    topic: str
    partition: int | None = None
    offset: int | None = None
    event_id: str | None = None
    original_omitted: bool = False
    original_size_bytes: int | None = None
    original_sha256: str | None = None
    original_record: StoredRecord | None = None


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
    "decision.superseded": DecisionSuperseded,
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
    "DecisionSuperseded",
    "DocumentDecided",
    "DocumentReceived",
    "Envelope",
    "EventType",
    "FieldCorrection",
    "Omission",
    "Outcome",
    "ReviewCompleted",
    "ReviewRequested",
    "StoredRecord",
    "envelope_json_schemas",
    "new_event_id",
]
