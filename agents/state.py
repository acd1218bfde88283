"""Workflow state and the runtime context nodes receive.

State values are JSON-shaped dicts (pydantic `model_dump(mode="json")`), so that
checkpoints are small, portable between SQLite and PostgreSQL, and never pickle
our classes. Nodes validate them back into models where they compute.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from agents.ports import Extractor, RulesEvaluator, TriageClassifier
from agents.routing import RoutingPolicy
from schemas.fields import Extraction
from schemas.verdicts import ReferenceFacts


class WorkflowState(TypedDict, total=False):
    document: dict[str, Any] | None
    """The parsed `Document`; dropped once rules ran, since resuming never needs it."""
    received_at: str
    """ISO time the document was accepted; age feeds review priority."""
    triage: dict[str, Any]
    """`TriageResult`."""
    extraction: dict[str, Any]
    """`Extraction`; a human review replaces corrected fields."""
    reference: dict[str, Any]
    """`ReferenceFacts` looked up before rules ran."""
    rules: dict[str, Any]
    """`RuleResult`."""
    route: dict[str, Any]
    """`RouteDecision`: approve, reject or review, with reasons and priority."""
    review: dict[str, Any]
    """`ReviewCompleted` payload the human-review interrupt resumed with."""
    decision: dict[str, Any]
    """Final `DocumentDecided` payload."""
    model_refs: dict[str, str]
    """Registry versions of the models this run started with (`WorkflowContext.model_refs`):
    a promotion mid-document does not change what it is decided by, nor what it records."""
    force_review: list[dict[str, Any]]
    """`RuleReason`s that send the document to a person whatever else says (a live
    replay of a reviewer's decision: a machine never overwrites it)."""


ReferenceLookup = Callable[[Extraction, str], Awaitable[ReferenceFacts]]
"""(extraction, document_id) → facts from master data and earlier documents."""


@dataclass(frozen=True)
class WorkflowContext:
    """Clients the nodes use, built once by the composition root."""

    triage: TriageClassifier
    extractor: Extractor
    rules: RulesEvaluator
    reference: ReferenceLookup
    routing: RoutingPolicy
    clock: Callable[[], datetime]
    model_refs: Mapping[str, str] = field(default_factory=dict)
    """`name → name/version` of the registry versions `triage` and `extractor` are."""
