"""`RulesEvaluator` over zen-engine: every graph for the document's kind, one verdict.

Graphs live in one folder, one decision per file; the file name's prefix says which
documents it applies to (`common_`, `invoice_`, `claim_`). Each graph returns
`reasons`: a list (collect tables) or one object (first-hit tables, whose catch-all
row has a null code). Reasons are exactly what the graphs say, so editing a message
in the JSON changes what reviewers read without a code change.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

import zen

from rules.context import IcdBillable, build_context
from rules.errors import GraphLoadError
from schemas.document import Document
from schemas.fields import Extraction
from schemas.limits import RuleLimits
from schemas.verdicts import (
    Outcome,
    ReferenceFacts,
    RuleReason,
    RuleResult,
    TriageResult,
)

PREFIXES: dict[str, tuple[str, ...]] = {
    "invoice": ("common_", "invoice_"),
    "claim": ("common_", "claim_"),
}
Severity = Literal["info", "review", "reject"]
_SEVERITIES: tuple[Severity, ...] = ("info", "review", "reject")
_IN, _OUT = "__request", "__response"
_COMPOSITE = "__all:"  # loader keys of the per-kind composites; no file stem has a colon


def graph_files(graphs_dir: Path) -> list[Path]:
    """Decision graphs in a folder, excluding their case tables."""
    return sorted(p for p in graphs_dir.glob("*.json") if not p.name.endswith(".cases.json"))


def graphs_version(graphs_dir: Path) -> str:
    """Content hash of every graph file: any rule change gives a new version."""
    digest = hashlib.sha256()
    for path in graph_files(graphs_dir):
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return "rules-" + digest.hexdigest()[:16]


def _icd_billable() -> IcdBillable:
    # Imported here, not at module top: the package parses its code tables on import
    # (seconds), which belongs to load time. Its importlib.resources calls are deprecated
    # upstream; that is its business, not a warning our callers can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as icd

    def is_billable(code: str) -> bool:
        return bool(icd.is_valid_item(code) and icd.is_leaf(code))

    return is_billable


def reasons_from_result(graph: str, result: dict[str, Any]) -> list[RuleReason]:
    """Reasons a graph produced; rows with a null code are "no finding"."""
    raw = result.get("reasons")
    items: Iterable[Any] = raw if isinstance(raw, list) else [raw] if raw else []
    reasons = []
    for item in items:
        if not isinstance(item, dict) or not item.get("code"):
            continue
        raw_severity = item.get("severity")
        severity = cast(Severity, raw_severity if raw_severity in _SEVERITIES else "review")
        reasons.append(
            RuleReason(
                code=str(item["code"]),
                message=str(item.get("message") or item["code"]),
                severity=severity,
                rule=graph,
            )
        )
    return reasons


def combine(reasons: list[RuleReason]) -> Outcome:
    severities = {r.severity for r in reasons}
    if "reject" in severities:
        return "reject"
    if "review" in severities:
        return "review"
    return "approve"


def composite(names: list[str]) -> str:
    """One decision that calls every named graph as a sub-decision, each answer under
    its graph's name: one engine call (and one context conversion) per document instead
    of one per graph. The sub-decision's own trace sits in its node's `traceData`."""
    nodes: list[dict[str, Any]] = [
        {"id": _IN, "type": "inputNode", "name": "Request", "content": {"schema": ""}},
        {"id": _OUT, "type": "outputNode", "name": "Response", "content": {"schema": ""}},
    ]
    edges = []
    for name in names:
        content = {"key": name, "passThrough": False, "inputField": None, "outputPath": name}
        nodes.append({"id": name, "type": "decisionNode", "name": name, "content": content})
        edges.append({"id": f"{_IN}>{name}", "sourceId": _IN, "targetId": name, "type": "edge"})
        edges.append({"id": f"{name}>{_OUT}", "sourceId": name, "targetId": _OUT, "type": "edge"})
    return json.dumps({"nodes": nodes, "edges": edges})


class ZenRulesEvaluator:
    """Implements `agents.ports.RulesEvaluator`. Build with `load`; no I/O afterwards."""

    def __init__(
        self,
        *,
        graphs: dict[str, str],
        version: str,
        is_billable: IcdBillable,
        trace: bool = True,
        limits: RuleLimits | None = None,
    ) -> None:
        self._contents = graphs
        self._version = version
        self._is_billable = is_billable
        self._trace = trace
        self._limits = limits or RuleLimits()
        self._composites = {
            f"{_COMPOSITE}{kind}": composite(self.graphs_for(kind)) for kind in (*PREFIXES, "")
        }
        loader = {**graphs, **self._composites}
        self._engine = zen.ZenEngine({"loader": cast(Callable[[str], str], loader.__getitem__)})

    @classmethod
    def load(
        cls, graphs_dir: Path, *, trace: bool = True, limits: RuleLimits | None = None
    ) -> ZenRulesEvaluator:
        """The graphs in `graphs_dir`; `limits` (the routing policy's) go into every input."""
        files = graph_files(graphs_dir)
        if not files:
            raise GraphLoadError(f"no decision graphs in {graphs_dir}")
        graphs: dict[str, str] = {}
        engine = zen.ZenEngine()
        for path in files:
            content = path.read_text(encoding="utf-8")
            try:
                json.loads(content)
                engine.create_decision(content).validate()
            except Exception as exc:  # zen raises plain RuntimeError/ValueError
                raise GraphLoadError(f"{path.name}: {exc}") from exc
            graphs[path.stem] = content
        return cls(
            graphs=graphs,
            version=graphs_version(graphs_dir),
            is_billable=_icd_billable(),
            trace=trace,
            limits=limits,
        )

    @property
    def version(self) -> str:
        return self._version

    @property
    def graph_names(self) -> tuple[str, ...]:
        return tuple(self._contents)

    def graphs_for(self, kind: str) -> list[str]:
        prefixes = PREFIXES.get(kind, ("common_",))
        return [name for name in self._contents if name.startswith(prefixes)]

    def context(
        self,
        *,
        document: Document,
        extraction: Extraction,
        triage: TriageResult,
        reference: ReferenceFacts,
        now: datetime,
    ) -> dict[str, Any]:
        """The engine input for a document (exposed for reviewers' "why" view and tests)."""
        return build_context(
            document=document,
            extraction=extraction,
            triage=triage,
            reference=reference,
            now=now,
            is_billable=self._is_billable,
            limits=self._limits,
        )

    def evaluate(
        self,
        *,
        document: Document,
        extraction: Extraction,
        triage: TriageResult,
        reference: ReferenceFacts,
        now: datetime,
    ) -> RuleResult:
        ctx = self.context(
            document=document,
            extraction=extraction,
            triage=triage,
            reference=reference,
            now=now,
        )
        names = self.graphs_for(document.kind)
        key = f"{_COMPOSITE}{document.kind if document.kind in PREFIXES else ''}"
        try:
            response = self._engine.evaluate(key, ctx, {"trace": self._trace})
        except Exception:  # zen raises RuntimeError; find which graph broke, one by one
            return self._evaluate_each(names, ctx)
        reasons: list[RuleReason] = []
        trace: dict[str, Any] = {}
        result, nodes = response["result"], response.get("trace") or {}
        for name in names:
            reasons.extend(reasons_from_result(name, result.get(name) or {}))
            node = nodes.get(name) or {}
            trace[name] = _compact(node.get("traceData")) or {"result": result.get(name)}
        return RuleResult(rules_version=self._version, outcome=combine(reasons), reasons=reasons, trace=trace)

    def _evaluate_each(self, names: list[str], ctx: dict[str, Any]) -> RuleResult:
        responses = self._engine.evaluate_batch(
            [{"key": name, "context": ctx} for name in names], {"trace": self._trace}
        )
        reasons: list[RuleReason] = []
        trace: dict[str, Any] = {}
        for name, response in zip(names, responses, strict=True):
            if not response.get("success"):
                # A broken rule must not approve anything: send the document to a person.
                reasons.append(
                    RuleReason(
                        code="rules_error",
                        message=f"Decision graph {name} failed: {response.get('error')}",
                        severity="review",
                        rule=name,
                    )
                )
                trace[name] = {"error": response.get("error")}
                continue
            data = response["data"]
            reasons.extend(reasons_from_result(name, data["result"]))
            trace[name] = _compact(data.get("trace")) or {"result": data["result"]}
        return RuleResult(rules_version=self._version, outcome=combine(reasons), reasons=reasons, trace=trace)


def _compact(graph_trace: Any) -> Any:
    """A graph's trace without what it repeats: every node's `input` (the whole
    context, or the previous node's output), the pass-through nodes (request and
    response carry the context again) and an expression node's output beyond its
    reasons (the context again, plus the keys its traceData holds). What each node
    matched and concluded stays (`traceData`, reasons, `name`, `order`,
    `performance`): what `review.trace_view` shows. The context is stored beside it
    (the extraction, triage and reference rows). Whole, a trace was ~29 KB per
    document and ~2.5 KB compacted; serialising and storing the whole one was a
    measurable share of a document's CPU (bench/service.py)."""
    if not isinstance(graph_trace, dict):
        return graph_trace
    out: dict[str, Any] = {}
    for key, node in graph_trace.items():
        if not isinstance(node, dict):
            out[key] = node
            continue
        data, output = node.get("traceData"), node.get("output")
        if data is None:  # request and response: the context passing through
            continue
        kept = {k: v for k, v in node.items() if k != "input"}
        if isinstance(data, dict) and isinstance(output, dict):
            # an expression node passes the context through: its computed keys are
            # in traceData already, so only the reasons it gave are kept
            kept["output"] = {k: v for k, v in output.items() if k == "reasons"}
        out[key] = kept
    return out
