"""What a replay selects, reads from the store and reports.

Kept in `schemas` so the store adapter (infra) and the replay service (agents) share
them without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.document import Document
from schemas.events import DocumentDecided, ReviewRequested
from schemas.fields import DocumentKind
from schemas.messages import Outgoing

Mode = Literal["live", "shadow"]
Route = Literal["approve", "reject", "review"]


class ReplaySelection(BaseModel):
    """Every criterion given must hold (AND); at least one must be given."""

    since: datetime | None = Field(default=None, description="received at or after (UTC)")
    until: datetime | None = Field(default=None, description="received before (UTC)")
    topic: str | None = Field(default=None, description="ingest offsets: the input topic")
    partition: int | None = None
    from_offset: int | None = None
    to_offset: int | None = Field(default=None, description="inclusive")
    epoch: str | None = Field(
        default=None, description="broker incarnation; default the newest in the ledger"
    )
    document_ids: list[str] = Field(default_factory=list)
    vendor: str | None = Field(default=None, description="extracted vendor name, case and spaces ignored")
    outcome: Route | None = Field(default=None, description="current outcome; review = an open task")
    kind: DocumentKind | None = None

    def is_empty(self) -> bool:
        return not any(v not in (None, []) for v in self.model_dump().values())

    def by_offsets(self) -> bool:
        return self.topic is not None or self.from_offset is not None or self.to_offset is not None


class ReplayOptions(BaseModel):
    include_reviewed: bool = False
    extractor: str | None = Field(default=None, description="shadow: candidate extractor ref")
    rules: str | None = Field(default=None, description="shadow: candidate rules directory")
    thresholds: str | None = Field(default=None, description="shadow: candidate thresholds file")
    candidate: dict[str, str] = Field(default_factory=dict, description="shadow: the versions that ran")


class ReplayTarget(BaseModel):
    """One selected document as the store holds it now: its input and its outcome."""

    document_id: str
    document: Document
    received_at: datetime
    correlation_id: str
    status: str = Field(description="the document row's: processing | review | decided")
    outcome: Route | None = Field(default=None, description="the decision's, or review for an open task")
    decided_by: Literal["auto", "human"] | None = None
    decided_at: datetime | None = None
    decision_fields: dict[str, str | None] = Field(default_factory=dict)
    decision_reasons: list[str] = Field(default_factory=list)
    open_task_id: str | None = None
    open_task_assignee: str | None = None
    open_task_reasons: list[str] = Field(default_factory=list)
    open_task_thread: str | None = None
    task_created_at: datetime | None = None
    queue: str | None = None
    had_task: bool = Field(default=False, description="any review task, open or closed, exists")
    extraction: dict[str, Any] | None = Field(default=None, description="the stored Extraction JSON")


class FieldChange(BaseModel):
    field: str
    before: str | None
    after: str | None


class ShadowRow(BaseModel):
    """One document in a counterfactual replay: how it went, how it would go."""

    document_id: str
    kind: str
    before: Route = Field(description="how the machine routed it: a reviewed document went to review")
    after: Route
    decided_by: Literal["auto", "human"] | None = None
    label: Route | None = Field(default=None, description="a reviewer's outcome, when there is one")
    after_reasons: list[str] = Field(default_factory=list)
    field_changes: list[FieldChange] = Field(default_factory=list)
    wrong_before: list[str] | None = Field(default=None, description="mandatory fields off the label")
    wrong_after: list[str] | None = None
    cost_usd: float = 0.0
    error: str | None = Field(default=None, description="the candidate failed on this document")


class ErrorEstimate(BaseModel):
    """On documents with a reviewer's label only."""

    labelled: int
    straight_through: int = Field(description="labelled documents this configuration would decide alone")
    wrong_straight_through: int = Field(description="…whose outcome or a mandatory field is off the label")
    field_wrong: int = Field(description="labelled documents with a mandatory field off the label")

    @property
    def rate(self) -> float | None:
        return self.wrong_straight_through / self.straight_through if self.straight_through else None


class ShadowReport(BaseModel):
    replay_id: str
    candidate: dict[str, str] = Field(default_factory=dict, description="what ran: versions by part")
    documents: int
    failed: int
    straight_through_before: float
    straight_through_after: float
    error_before: ErrorEstimate
    error_after: ErrorEstimate
    cost_usd: float
    decisions_changed: list[ShadowRow]
    fields_changed: list[ShadowRow]
    rows: list[ShadowRow]


@dataclass(frozen=True)
class LiveChange:
    """What one live run decided, handed to the store to commit in one transaction."""

    replay_id: str
    target: ReplayTarget
    state: dict[str, Any]
    thread_id: str
    decision: DocumentDecided | None = None
    task: ReviewRequested | None = None
    messages: list[tuple[str, Outgoing]] = field(default_factory=list)
    """(outbox dedupe key, message): the decided or review.requested message."""
    superseded: Callable[[int | None, str | None], tuple[str, Outgoing]] | None = None
    """Builds the `decision.superseded` message once the store knows the replaced
    decision's history row and the review task it closed."""
    reason: str = ""
