"""Static checks of decision tables, run in CI and before a graph is deployed.

Conditions are compared syntactically (after collapsing whitespace): an empty or "-"
cell matches anything, identical text matches the same inputs. That misses overlaps
that only arithmetic would reveal, but catches the common editing slips: a row pasted
twice, a catch-all moved up, a first-hit table with no default.

Findings:
- `no_default`: a first-hit table whose last row is not a catch-all, so some inputs
  produce no output at all (the graph's author must say what "no finding" means).
- `unreachable`: under first-hit, a row every earlier row's cells shadow (each earlier
  cell empty or identical), so it can never be chosen. Under collect, an identical
  duplicate row (it would report the same finding twice).
- `overlap`: under first-hit, two non-default rows that can both match (each column
  equal or empty on one side) where neither shadows the other: order decides silently.
- `unknown_code`: an output column named `code` emits a literal that is not in the reason
  vocabulary (`schemas.reasons.REASONS`), e.g. a code in another case or a typo
  (`lint_codes`; `lint_graphs` runs it beside the table checks).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rules.evaluator import graph_files
from schemas.reasons import is_known

Problem = Literal["no_default", "unreachable", "overlap", "unknown_code"]
_SPACE = re.compile(r"\s+")
_LITERAL = re.compile(r"^\s*'([^']*)'\s*$|^\s*\"([^\"]*)\"\s*$")


@dataclass(frozen=True)
class LintFinding:
    graph: str
    table: str
    problem: Problem
    rows: tuple[int, ...]
    detail: str


def _cell(text: Any) -> str:
    cell = _SPACE.sub(" ", str(text or "")).strip()
    return "" if cell == "-" else cell


def _shadows(earlier: list[str], later: list[str]) -> bool:
    """Every input the later row matches, the earlier matches too."""
    return all(e == "" or e == lt for e, lt in zip(earlier, later, strict=True))


def _may_overlap(a: list[str], b: list[str]) -> bool:
    return all(x == "" or y == "" or x == y for x, y in zip(a, b, strict=True))


def lint_table(graph: str, node: dict[str, Any]) -> list[LintFinding]:
    content = node["content"]
    table = node.get("name") or node["id"]
    columns = [c["id"] for c in content.get("inputs", [])]
    rows = [[_cell(rule.get(c)) for c in columns] for rule in content.get("rules", [])]
    first_hit = content.get("hitPolicy", "first") == "first"
    findings: list[LintFinding] = []

    def add(problem: Problem, idx: tuple[int, ...], detail: str) -> None:
        findings.append(LintFinding(graph, table, problem, idx, detail))

    is_default = [all(c == "" for c in row) for row in rows]
    if first_hit and (not rows or not is_default[-1]):
        add("no_default", (len(rows) - 1,), "first-hit table has no catch-all last row")
    for j, later in enumerate(rows):
        for i in range(j):
            earlier = rows[i]
            if first_hit and _shadows(earlier, later):
                add("unreachable", (i, j), f"row {j} is shadowed by row {i}")
                break
            if not first_hit and earlier == later:
                add("unreachable", (i, j), f"row {j} duplicates row {i}")
                break
            if first_hit and not is_default[j] and _may_overlap(earlier, later):
                add("overlap", (i, j), f"rows {i} and {j} can both match; row {i} wins")
    return findings


def lint_graph(path: Path) -> list[LintFinding]:
    graph = json.loads(path.read_text(encoding="utf-8"))
    findings: list[LintFinding] = []
    for node in graph.get("nodes", []):
        if node.get("type") == "decisionTableNode":
            findings.extend(lint_table(path.stem, node))
    return findings


def lint_codes(path: Path) -> list[LintFinding]:
    """Reason codes a graph's tables emit that the vocabulary does not declare. A code
    cell that is not a plain string literal (computed) cannot be checked here."""
    graph = json.loads(path.read_text(encoding="utf-8"))
    findings: list[LintFinding] = []
    for node in graph.get("nodes", []):
        if node.get("type") != "decisionTableNode":
            continue
        content = node["content"]
        columns = [o["id"] for o in content.get("outputs", []) if o.get("field") == "code"]
        for i, rule in enumerate(content.get("rules", [])):
            for column in columns:
                literal = _LITERAL.match(str(rule.get(column) or ""))
                code = literal and (literal.group(1) or literal.group(2))
                if code and not is_known(code):
                    detail = f"row {i} emits {code!r}, not a code of schemas/reasons.py"
                    findings.append(
                        LintFinding(path.stem, node.get("name") or node["id"], "unknown_code", (i,), detail)
                    )
    return findings


def lint_graphs(graphs_dir: Path) -> list[LintFinding]:
    """Every finding for every graph in a folder; an empty list means clean."""
    return [f for path in graph_files(graphs_dir) for f in (*lint_graph(path), *lint_codes(path))]
