"""The document workflow: triage → extract → lookup → rules → route → (human) → finalize."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents import nodes
from agents.state import WorkflowContext, WorkflowState


def build_graph(
    *, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[WorkflowState, WorkflowContext, WorkflowState, WorkflowState]:
    """A fresh compiled graph; tests compile their own."""
    g = StateGraph(WorkflowState, context_schema=WorkflowContext)
    g.add_node("triage", nodes.triage)
    g.add_node("extract", nodes.extract)
    g.add_node("lookup", nodes.lookup)
    g.add_node("rules", nodes.rules)
    g.add_node("route", nodes.route)
    g.add_node("human_review", nodes.human_review)
    g.add_node("finalize", nodes.finalize)
    g.add_edge(START, "triage")
    g.add_edge("triage", "extract")
    g.add_edge("extract", "lookup")
    g.add_edge("lookup", "rules")
    g.add_edge("rules", "route")
    g.add_conditional_edges("route", nodes.after_route, ["human_review", "finalize"])
    g.add_edge("human_review", "finalize")
    g.add_edge("finalize", END)
    return g.compile(checkpointer=checkpointer)
