"""What a reviewer asks the review service to do: one command per action.

The JSON API and the HTML forms parse their own input into the same command and hand
it to the same handler (review/handlers.py), so both edges get one behaviour. A command
carries who asks (`actor`) and when (`at`, read from the app's clock at the edge);
fields are keyword-only so new ones can be added without breaking callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field

from review.auth import Principal
from schemas.verdicts import FinalOutcome, RejectKind


class ReviewAnswer(BaseModel):
    """A reviewer's answer as it arrives: the API's body, the task form's fields."""

    outcome: FinalOutcome
    reason: str = Field(default="", max_length=2000)
    fields: dict[str, str | None] = Field(
        default_factory=dict,
        description="field name → value the reviewer saw fit; unchanged ones are ignored",
    )
    reject_kind: RejectKind | None = Field(
        default=None,
        description="required to reject: business (fields checked and right, the case is refused; "
        "they become training data) or fields (data wrong or unreadable; only corrected fields do)",
    )


@dataclass(frozen=True, kw_only=True)
class LeaseNextTask:
    """Lease the most urgent task `actor` may take (or the one they already hold)."""

    actor: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ClaimTask:
    """Lease one named task, or renew your own lease on it."""

    task_id: str
    actor: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ReleaseTask:
    task_id: str
    actor: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ReassignTask:
    """A lead hands a task to another reviewer, with a fresh lease."""

    task_id: str
    actor: Principal
    assignee: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class EscalateTask:
    task_id: str
    actor: Principal
    reason: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class SubmitReview:
    """One reviewer's answer to one task. `bulk` answers without holding the lease
    (bulk approve): refused for a task someone else holds or that needs two reviewers."""

    task_id: str
    actor: Principal
    outcome: FinalOutcome
    reason: str = ""
    fields: Mapping[str, str | None] = field(default_factory=dict)
    at: datetime
    bulk: bool = False
    reject_kind: RejectKind | None = None

    @classmethod
    def answering(cls, answer: ReviewAnswer, *, task_id: str, actor: Principal, at: datetime) -> SubmitReview:
        return cls(
            task_id=task_id,
            actor=actor,
            outcome=answer.outcome,
            reason=answer.reason,
            fields=dict(answer.fields),
            at=at,
            reject_kind=answer.reject_kind if answer.outcome == "reject" else None,
        )


@dataclass(frozen=True, kw_only=True)
class BulkApproveTasks:
    """Approve, without edits, tasks that share one primary reason; lead only."""

    task_ids: tuple[str, ...]
    actor: Principal
    reason: str = ""
    at: datetime
