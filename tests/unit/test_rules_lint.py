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
