"""Workflow nodes: each takes the state and returns only what it changes.

Clients come from the runtime context; no node builds one.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.routing import route as route_policy
from agents.selectors import unverified_selectors
from agents.state import WorkflowContext, WorkflowState
from schemas.document import Document
from schemas.events import DocumentDecided, ReviewCompleted
from schemas.fields import ExtractedField, Extraction
from schemas.values import document_amount
from schemas.verdicts import ReferenceFacts, RouteDecision, RuleReason, RuleResult, TriageResult


def _document(state: WorkflowState) -> Document:
    doc = state.get("document")
    if doc is None:
        raise RuntimeError("document was already dropped from the state")
    return Document.model_validate(doc)


async def triage(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    result = await runtime.context.triage.classify(_document(state))
    return {"triage": result.model_dump(mode="json")}


async def extract(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    result = await runtime.context.extractor.extract(_document(state))
    return {"extraction": result.model_dump(mode="json")}


async def lookup(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    extraction = Extraction.model_validate(state["extraction"])
    facts = await runtime.context.reference(extraction, _document(state).document_id)
    return {"reference": facts.model_dump(mode="json")}


async def rules(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    ctx = runtime.context
    result = ctx.rules.evaluate(
        document=_document(state),
        extraction=Extraction.model_validate(state["extraction"]),
        triage=TriageResult.model_validate(state["triage"]),
        reference=ReferenceFacts.model_validate(state["reference"]),
        now=ctx.clock(),
    )
    return {"rules": result.model_dump(mode="json")}


def amount_of(extraction: Extraction) -> float | None:
    """The amount that sizes the document, for the review priority."""
    amount = document_amount({name: f.value for name, f in extraction.fields.items()})
    return None if amount is None else float(amount)


async def route(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    extraction = Extraction.model_validate(state["extraction"])
    policy = runtime.context.routing
    decision = route_policy(
        policy=policy,
        extraction=extraction,
        triage=TriageResult.model_validate(state["triage"]),
        rules=RuleResult.model_validate(state["rules"]),
        amount=amount_of(extraction),
        unverified=[
            *(RuleReason.model_validate(r) for r in state.get("force_review") or []),
            *unverified_selectors(document=_document(state), extraction=extraction, policy=policy),
        ],
    )
    # The text is stored with the document row; the checkpoint only needs verdicts.
    return {"route": decision.model_dump(mode="json"), "document": None}


def after_route(state: WorkflowState) -> Literal["human_review", "finalize"]:
    return "human_review" if state["route"]["outcome"] == "review" else "finalize"


def human_review(state: WorkflowState) -> dict[str, Any]:
    """Pause until a reviewer answers; the answer's corrections replace fields."""
    answer = ReviewCompleted.model_validate(interrupt({"route": state["route"]}))
    extraction = Extraction.model_validate(state["extraction"])
    fields = dict(extraction.fields)
    for c in answer.corrections:
        fields[c.field] = ExtractedField(value=c.new_value, raw=c.new_value, confidence=1.0)
    corrected = extraction.model_copy(update={"fields": fields})
    return {
        "review": answer.model_dump(mode="json"),
        "extraction": corrected.model_dump(mode="json"),
    }


def finalize(state: WorkflowState) -> dict[str, Any]:
    extraction = Extraction.model_validate(state["extraction"])
    rules_result = RuleResult.model_validate(state["rules"])
    triage_result = TriageResult.model_validate(state["triage"])
    routed = RouteDecision.model_validate(state["route"])
    review = state.get("review")
    common = {
        "document_id": "",  # filled by the caller, which owns the identity
        "kind": extraction.kind,
        "reasons": routed.reasons,
        "fields": {k: v.value for k, v in extraction.fields.items()},
        "model_versions": {
            "extractor": extraction.model_version,
            "triage": triage_result.model_version,
        },
        "model_refs": dict(state.get("model_refs") or {}),
        "rules_version": rules_result.rules_version,
    }
    if review is not None:
        answer = ReviewCompleted.model_validate(review)
        decided = DocumentDecided(
            **common,
            outcome=answer.outcome,
            decided_by="human",
            reviewer=answer.reviewer,
        )
    else:
        outcome = "approve" if routed.outcome == "approve" else "reject"
        decided = DocumentDecided(**common, outcome=outcome, decided_by="auto")
    return {"decision": decided.model_dump(mode="json")}
