from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rules.lint import lint_graph, lint_graphs

GRAPHS = Path(__file__).resolve().parents[2] / "rules" / "graphs"


def _graph(tmp_path: Path, hit: str, rows: list[list[str]]) -> Path:
    table: dict[str, Any] = {
        "id": "t",
        "type": "decisionTableNode",
        "name": "table",
        "content": {
            "hitPolicy": hit,
            "inputs": [
                {"id": "a", "name": "A", "field": "a"},
                {"id": "b", "name": "B", "field": "b"},
            ],
            "outputs": [{"id": "o", "name": "Code", "field": "code"}],
            "rules": [{"_id": f"r{i}", "a": a, "b": b, "o": "'X'"} for i, (a, b) in enumerate(rows)],
        },
    }
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"nodes": [table], "edges": []}))
    return path


def test_shipped_graphs_are_clean() -> None:
    assert lint_graphs(GRAPHS) == []


def test_first_hit_without_catch_all(tmp_path: Path) -> None:
    findings = lint_graph(_graph(tmp_path, "first", [["> 1", ""], ["< 0", "'x'"]]))
    assert [f.problem for f in findings] == ["no_default"]


def test_row_after_catch_all_is_unreachable(tmp_path: Path) -> None:
    findings = lint_graph(_graph(tmp_path, "first", [["> 1", ""], ["-", ""], ["< 0", ""], ["", ""]]))
    unreachable = {f.rows for f in findings if f.problem == "unreachable"}
    assert unreachable == {(1, 2), (1, 3)}


def test_identical_condition_shadows_despite_spacing(tmp_path: Path) -> None:
    findings = lint_graph(_graph(tmp_path, "first", [[">  1", ""], ["> 1", "'x'"], ["", ""]]))
    assert [(f.problem, f.rows) for f in findings] == [("unreachable", (0, 1))]


def test_overlapping_rows_under_first_hit(tmp_path: Path) -> None:
    findings = lint_graph(_graph(tmp_path, "first", [["> 1", ""], ["", "'x'"], ["", ""]]))
    assert [(f.problem, f.rows) for f in findings] == [("overlap", (0, 1))]


def test_disjoint_rows_are_clean(tmp_path: Path) -> None:
    assert lint_graph(_graph(tmp_path, "first", [["> 1", "'x'"], ["< 0", "'x'"], ["", ""]])) == []


def test_collect_duplicates_but_no_default_needed(tmp_path: Path) -> None:
    findings = lint_graph(_graph(tmp_path, "collect", [["> 1", ""], ["", "'x'"], ["> 1", ""]]))
    assert [(f.problem, f.rows) for f in findings] == [("unreachable", (0, 2))]


def test_unknown_reason_codes_are_findings(tmp_path: Path) -> None:
    """One vocabulary: a graph that emits a code schemas/reasons.py does not declare
    (upper case, a typo) fails the lint."""
    from rules.lint import lint_codes

    path = _graph(tmp_path, "collect", [["> 1", ""]])
    graph = json.loads(path.read_text())
    rules = graph["nodes"][0]["content"]["rules"]
    rules.append({"_id": "r1", "a": "< 0", "b": "", "o": "'LOW_CONFIDENCE'"})
    rules.append({"_id": "r2", "a": "< -1", "b": "", "o": "'low_confidence'"})
    path.write_text(json.dumps(graph))
    findings = lint_codes(path)
    assert [(f.problem, f.rows) for f in findings] == [("unknown_code", (0,)), ("unknown_code", (1,))]
    assert "'X'" in findings[0].detail and "'LOW_CONFIDENCE'" in findings[1].detail


def test_shipped_graphs_and_cases_use_declared_codes() -> None:
    from rules.lint import lint_codes
    from schemas.reasons import REASONS

    assert [
        f for p in sorted(GRAPHS.glob("*.json")) if not p.name.endswith(".cases.json") for f in lint_codes(p)
    ] == []
    for cases in GRAPHS.glob("*.cases.json"):
        for case in json.loads(cases.read_text())["cases"]:
            assert {e["code"] for e in case["expect"]} <= REASONS.keys(), (cases.name, case["name"])


def test_routing_and_evaluator_codes_are_declared() -> None:
    import re

    from schemas.reasons import REASONS

    root = GRAPHS.parents[1]
    for source in (root / "agents" / "routing.py", root / "rules" / "evaluator.py"):
        emitted = set(re.findall(r'code="([^"]+)"', source.read_text()))
        assert emitted and emitted <= REASONS.keys(), (source.name, emitted - REASONS.keys())
