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
from agents.telemetry import observe_extraction, stage
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
    result = await classify(_document(state), runtime.context)
    return {"triage": result.model_dump(mode="json")}


async def extract(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    result = await extract_fields(_document(state), runtime.context)
    return {"extraction": result.model_dump(mode="json")}


async def lookup(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    extraction = Extraction.model_validate(state["extraction"])
    facts = await look_up(extraction, _document(state).document_id, runtime.context)
    return {"reference": facts.model_dump(mode="json")}


async def rules(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    result = evaluate(
        _document(state),
        Extraction.model_validate(state["extraction"]),
        TriageResult.model_validate(state["triage"]),
        ReferenceFacts.model_validate(state["reference"]),
        runtime.context,
    )
    return {"rules": result.model_dump(mode="json")}


def amount_of(extraction: Extraction) -> float | None:
    """The amount that sizes the document, for the review priority."""
    amount = document_amount({name: f.value for name, f in extraction.fields.items()})
    return None if amount is None else float(amount)


async def route(state: WorkflowState, runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
    decision = decide_route(
        _document(state),
        Extraction.model_validate(state["extraction"]),
        TriageResult.model_validate(state["triage"]),
        RuleResult.model_validate(state["rules"]),
        [RuleReason.model_validate(r) for r in state.get("force_review") or []],
        runtime.context,
    )
    # The text is stored with the document row; the checkpoint only needs verdicts.
    return {"route": decision.model_dump(mode="json"), "document": None}


# The nodes' work on typed values. The graph's nodes above validate their JSON state
# into these; the straight-through path (`agents.graph.run_straight_through`) calls
# them directly and dumps each result once, for the store.


async def classify(document: Document, ctx: WorkflowContext) -> TriageResult:
    with stage("triage"):
        return await ctx.triage.classify(document)


async def extract_fields(document: Document, ctx: WorkflowContext) -> Extraction:
    with stage("extract"):
        result = await ctx.extractor.extract(document)
    observe_extraction(result)
    return result


async def look_up(extraction: Extraction, document_id: str, ctx: WorkflowContext) -> ReferenceFacts:
    with stage("lookup"):
        return await ctx.reference(extraction, document_id)


def evaluate(
    document: Document,
    extraction: Extraction,
    triage: TriageResult,
    reference: ReferenceFacts,
    ctx: WorkflowContext,
) -> RuleResult:
    with stage("rules"):
        return ctx.rules.evaluate(
            document=document, extraction=extraction, triage=triage, reference=reference, now=ctx.clock()
        )


def decide_route(
    document: Document,
    extraction: Extraction,
    triage: TriageResult,
    rules: RuleResult,
    force_review: list[RuleReason],
    ctx: WorkflowContext,
) -> RouteDecision:
    policy = ctx.routing
    return route_policy(
        policy=policy,
        extraction=extraction,
        triage=triage,
        rules=rules,
        amount=amount_of(extraction),
        unverified=[
            *force_review,
            *unverified_selectors(document=document, extraction=extraction, policy=policy),
        ],
    )


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
    review = state.get("review")
    decided = decision_of(
        extraction=Extraction.model_validate(state["extraction"]),
        rules=RuleResult.model_validate(state["rules"]),
        triage=TriageResult.model_validate(state["triage"]),
        routed=RouteDecision.model_validate(state["route"]),
        review=ReviewCompleted.model_validate(review) if review is not None else None,
        model_refs=state.get("model_refs") or {},
    )
    return {"decision": decided.model_dump(mode="json")}


def decision_of(
    *,
    extraction: Extraction,
    rules: RuleResult,
    triage: TriageResult,
    routed: RouteDecision,
    review: ReviewCompleted | None,
    model_refs: dict[str, str],
) -> DocumentDecided:
    common = {
        "document_id": "",  # filled by the caller, which owns the identity
        "kind": extraction.kind,
        "reasons": routed.reasons,
        "fields": {k: v.value for k, v in extraction.fields.items()},
        "model_versions": {
            "extractor": extraction.model_version,
            "triage": triage.model_version,
        },
        "model_refs": dict(model_refs),
        "rules_version": rules.rules_version,
    }
    if review is not None:
        return DocumentDecided(
            **common,
            outcome=review.outcome,
            decided_by="human",
            reviewer=review.reviewer,
        )
    outcome = "approve" if routed.outcome == "approve" else "reject"
    return DocumentDecided(**common, outcome=outcome, decided_by="auto")
