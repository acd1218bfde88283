"""Domain verdicts: what triage, rules and routing conclude about one document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Outcome = Literal["approve", "reject", "review"]
FinalOutcome = Literal["approve", "reject", "request_info"]
# Why a reviewer rejected: `business` = the fields were checked and are right, the case
# is refused (they are gold); `fields` = the data is wrong or unreadable (only the
# fields the reviewer corrected are gold). See feedback/export.py.
RejectKind = Literal["business", "fields"]


class TriageResult(BaseModel):
    """Classifier output: predicted kind/risk with probabilities."""

    model_version: str
    predicted_kind: str
    risk: float = Field(ge=0.0, le=1.0, description="probability a human changes the outcome")
    probabilities: dict[str, float] = Field(default_factory=dict)
    failure: str | None = None


class RuleReason(BaseModel):
    code: str
    message: str
    severity: Literal["info", "review", "reject"] = "review"
    rule: str = Field(default="", description="decision graph that produced it")


class RuleResult(BaseModel):
    """Outcome of all decision graphs for a document, with the engine's trace."""

    rules_version: str
    outcome: Outcome
    reasons: list[RuleReason] = Field(default_factory=list)
    trace: dict[str, Any] = Field(default_factory=dict)


class RouteDecision(BaseModel):
    outcome: Outcome
    reasons: list[RuleReason] = Field(default_factory=list)
    priority: int = Field(default=50, ge=0, le=100)


class ReferenceFacts(BaseModel):
    """Cross-document facts looked up in the database before rules run, so that
    rules stay pure. Absent master data is None, not an error."""

    duplicate_of: str | None = Field(
        default=None, description="id of an earlier document with the same business key"
    )
    policy: dict[str, Any] | None = Field(
        default=None,
        description="policy_number, active_from, active_to, coverage_limit, deductible",
    )
    vendor: dict[str, Any] | None = Field(
        default=None, description="name, allowed_currencies, approval_threshold"
    )
    purchase_order: dict[str, Any] | None = Field(
        default=None, description="po_number, vendor, amount, currency"
    )
