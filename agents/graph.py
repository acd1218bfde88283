"""The document workflow: triage → extract → lookup → rules → route → (human) → finalize.

Two ways through the same nodes. A document that routing decides straight through
runs them as plain calls (`run_straight_through`): nothing pauses, so nothing needs a
checkpoint, and LangGraph's scheduling and checkpoint write were about a fifth of the
per-document overhead (bench/service.py). Only a document routed to review enters the
compiled graph, at `human_review` with the verdicts already in its state: the graph
pauses there and its checkpoint holds what resuming needs, as before. A graph run from
a bare document (the LLM retry, checkpoints written before this split) starts at
triage, so every existing checkpoint still resumes.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agents import nodes
from agents.state import WorkflowContext, WorkflowState
from schemas.document import Document
from schemas.verdicts import RuleReason

Node = Callable[[WorkflowState, Runtime[WorkflowContext]], Awaitable[dict[str, Any]]]

BEFORE_REVIEW: tuple[tuple[str, Node], ...] = (
    ("triage", nodes.triage),
    ("extract", nodes.extract),
    ("lookup", nodes.lookup),
    ("rules", nodes.rules),
    ("route", nodes.route),
)
"""The nodes every document runs, in order, up to the routing decision."""

log = logging.getLogger(__name__)


def _entry(state: WorkflowState) -> Literal["triage", "human_review"]:
    """Routed already (the straight-through run chose review): wait for a person."""
    return "human_review" if state.get("route") is not None else "triage"


def build_graph(
    *, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[WorkflowState, WorkflowContext, WorkflowState, WorkflowState]:
    """A fresh compiled graph; tests compile their own."""
    g = StateGraph(WorkflowState, context_schema=WorkflowContext)
    for name, node in BEFORE_REVIEW:
        g.add_node(name, node)  # type: ignore[call-overload]  # Node is the runtime-node shape
    g.add_node("human_review", nodes.human_review)
    g.add_node("finalize", nodes.finalize)
    g.add_conditional_edges(START, _entry, ["triage", "human_review"])
    for (a, _), (b, _) in itertools.pairwise(BEFORE_REVIEW):
        g.add_edge(a, b)
    g.add_conditional_edges("route", nodes.after_route, ["human_review", "finalize"])
    g.add_edge("human_review", "finalize")
    g.add_edge("finalize", END)
    return g.compile(checkpointer=checkpointer)


async def run_straight_through(
    state: WorkflowState, *, context: WorkflowContext, document: Document | None = None
) -> WorkflowState:
    """The nodes up to routing as plain calls, then `finalize` unless routing chose
    review; the caller hands a routed-to-review state to the graph (`_entry`).

    The same work as the graph's nodes (`agents.nodes`' typed functions) on typed
    values: the document the caller already parsed, each verdict passed on as it
    came back and dumped to JSON once for the state the store and the graph keep. The
    nodes validate every input back from JSON instead, four times for the document."""
    doc = document if document is not None else Document.model_validate(state["document"])
    tri = await nodes.classify(doc, context)
    ext = await nodes.extract_fields(doc, context)
    ref = await nodes.look_up(ext, doc.document_id, context)
    rul = nodes.evaluate(doc, ext, tri, ref, context)
    force = [RuleReason.model_validate(r) for r in state.get("force_review") or []]
    routed = nodes.decide_route(doc, ext, tri, rul, force, context)
    out: dict[str, Any] = {
        **state,
        "document": None,  # as the route node leaves it: the text lives in `documents`
        "triage": tri.model_dump(mode="json"),
        "extraction": ext.model_dump(mode="json"),
        "reference": ref.model_dump(mode="json"),
        "rules": rul.model_dump(mode="json"),
        "route": routed.model_dump(mode="json"),
    }
    if routed.outcome != "review":
        decided = nodes.decision_of(
            extraction=ext,
            rules=rul,
            triage=tri,
            routed=routed,
            review=None,
            model_refs=state.get("model_refs") or {},
        )
        out["decision"] = decided.model_dump(mode="json")
    return out  # type: ignore[return-value]


async def drop_thread(graph: Any, thread: str) -> None:
    """Delete a workflow thread's checkpoint (a replay or LLM retry that finished with it)."""
    saver = graph.checkpointer
    if not isinstance(saver, BaseCheckpointSaver):
        return
    try:
        await saver.adelete_thread(thread)
    except Exception as exc:  # an orphaned checkpoint costs space, never correctness
        log.warning("could not delete workflow thread %s: %r", thread, exc)
