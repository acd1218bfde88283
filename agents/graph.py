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


async def run_straight_through(state: WorkflowState, *, context: WorkflowContext) -> WorkflowState:
    """The nodes up to routing as plain calls, then `finalize` unless routing chose
    review; the caller hands a routed-to-review state to the graph (`_entry`)."""
    runtime = Runtime(context=context)
    current: dict[str, Any] = dict(state)
    for _, node in BEFORE_REVIEW:
        current.update(await node(current, runtime))  # type: ignore[arg-type]
    if nodes.after_route(current) == "finalize":  # type: ignore[arg-type]
        current.update(nodes.finalize(current))  # type: ignore[arg-type]
    return current  # type: ignore[return-value]


async def drop_thread(graph: Any, thread: str) -> None:
    """Delete a workflow thread's checkpoint (a replay or LLM retry that finished with it)."""
    saver = graph.checkpointer
    if not isinstance(saver, BaseCheckpointSaver):
        return
    try:
        await saver.adelete_thread(thread)
    except Exception as exc:  # an orphaned checkpoint costs space, never correctness
        log.warning("could not delete workflow thread %s: %r", thread, exc)
