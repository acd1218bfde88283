"""Case tables beside each graph: `<graph>.cases.json`, input → expected reasons.

Format::

    {"cases": [
        {"name": "receipt without total",
         "input": {... engine input, see rules/context.py ...},
         "expect": [{"code": "missing_total", "severity": "review"}]}
    ]}

`expect` lists every reason the graph must produce (order ignored); an empty list
means the graph must find nothing. A rule author edits the graph and its cases
together in one change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zen

from rules.errors import CaseFileError
from rules.evaluator import graph_files, reasons_from_result


@dataclass(frozen=True)
class CaseOutcome:
    graph: str
    name: str
    expected: tuple[tuple[str, str | None], ...]
    actual: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> bool:
        actual_codes = sorted(code for code, _ in self.actual)
        if sorted(code for code, _ in self.expected) != actual_codes:
            return False
        severities = dict(self.actual)
        return all(sev is None or severities[code] == sev for code, sev in self.expected)


def load_cases(path: Path) -> list[dict[str, Any]]:
    try:
        cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
        for case in cases:
            if not {"name", "input", "expect"} <= case.keys():
                raise KeyError(f"case needs name, input and expect: {case}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CaseFileError(f"{path.name}: {exc}") from exc
    return list(cases)


def run_cases(graphs_dir: Path) -> list[CaseOutcome]:
    """Evaluate every case of every graph that has a case file."""
    engine = zen.ZenEngine()
    outcomes: list[CaseOutcome] = []
    for graph_path in graph_files(graphs_dir):
        cases_path = graph_path.with_name(graph_path.stem + ".cases.json")
        if not cases_path.exists():
            continue
        decision = engine.create_decision(graph_path.read_text(encoding="utf-8"))
        for case in load_cases(cases_path):
            result = decision.evaluate(case["input"])["result"]
            reasons = reasons_from_result(graph_path.stem, result)
            outcomes.append(
                CaseOutcome(
                    graph=graph_path.stem,
                    name=case["name"],
                    expected=tuple((e["code"], e.get("severity")) for e in case["expect"]),
                    actual=tuple((r.code, r.severity) for r in reasons),
                )
            )
    return outcomes
