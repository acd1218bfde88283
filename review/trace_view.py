"""The rules trace as a reviewer reads it: graph → rule → what it read and concluded.

The evaluator stores zen-engine's trace per graph (`rule_results.trace`): for each
node its name, input, output, order and `traceData` (for a decision table, the rows
that matched, with the values their conditions read in `reference_map`; for an
expression node, each computed key and its result). Request and response nodes only
pass the document through and are left out; long values are cut short. A graph that
failed keeps `{"error": ...}`, and an engine without tracing keeps `{"result": ...}`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from schemas.reasons import reason_label

MAX_VALUE = 80


class TraceStep(BaseModel):
    """One node of a graph: which rows matched, what they read, what came out."""

    node: str
    matched: list[str] = []
    inputs: list[tuple[str, str]] = []
    outputs: list[tuple[str, str]] = []


class GraphTrace(BaseModel):
    graph: str
    steps: list[TraceStep] = []
    findings: list[tuple[str, str]] = []  # (code, label) of the reasons the graph gave
    error: str | None = None


def short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _findings(output: Any) -> list[tuple[str, str]]:
    reasons = output.get("reasons") if isinstance(output, dict) else None
    codes = [str(r.get("code")) for r in reasons or [] if isinstance(r, dict) and r.get("code")]
    return [(c, reason_label(c)) for c in codes]


def _step(node: dict[str, Any]) -> TraceStep | None:
    data = node.get("traceData")
    if isinstance(data, list) and data:  # decision table: the matched rows
        matched = [str((row.get("rule") or {}).get("_id") or f"row {row.get('index')}") for row in data]
        refs: dict[str, Any] = {}
        for row in data:
            refs.update(row.get("reference_map") or {})
        outputs = [(code, label) for code, label in _findings(node.get("output"))]
        return TraceStep(
            node=str(node.get("name") or node.get("id")),
            matched=matched,
            inputs=[(k, short(v)) for k, v in sorted(refs.items())],
            outputs=outputs,
        )
    if isinstance(data, dict) and data:  # expression node: computed keys
        results = [(k, short(v.get("result") if isinstance(v, dict) else v)) for k, v in data.items()]
        return TraceStep(node=str(node.get("name") or node.get("id")), outputs=results)
    if isinstance(data, list):  # a table where no row matched
        return TraceStep(node=str(node.get("name") or node.get("id")))
    return None  # request / response: the document passing through


def graph_trace(graph: str, raw: Any) -> GraphTrace:
    if not isinstance(raw, dict):
        return GraphTrace(graph=graph, steps=[TraceStep(node="result", outputs=[("value", short(raw))])])
    if "error" in raw and len(raw) == 1:
        return GraphTrace(graph=graph, error=short(raw["error"]))
    nodes = [n for n in raw.values() if isinstance(n, dict) and ("traceData" in n or "output" in n)]
    if not nodes:  # no per-node trace: the graph's result only
        return GraphTrace(
            graph=graph, steps=[TraceStep(node="result", outputs=[(k, short(v)) for k, v in raw.items()])]
        )
    nodes.sort(key=lambda n: n.get("order", 0))
    steps = [s for s in (_step(n) for n in nodes) if s is not None]
    findings = [f for n in nodes for f in _findings(n.get("output")) if n.get("traceData") is not None]
    return GraphTrace(graph=graph, steps=steps, findings=list(dict.fromkeys(findings)))


def rule_trace(trace: dict[str, Any] | None) -> list[GraphTrace]:
    """Every graph of a stored trace, in the order the evaluator ran them."""
    return [graph_trace(name, raw) for name, raw in (trace or {}).items()]
