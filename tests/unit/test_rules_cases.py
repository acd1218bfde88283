"""Every graph's case table, one test per case, so a failing rule names itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.cases import CaseOutcome, run_cases
from rules.evaluator import graph_files

GRAPHS = Path(__file__).resolve().parents[2] / "rules" / "graphs"
OUTCOMES = run_cases(GRAPHS)


def test_every_graph_has_cases() -> None:
    with_cases = {o.graph for o in OUTCOMES}
    assert with_cases == {p.stem for p in graph_files(GRAPHS)}


def test_every_graph_has_a_case_that_finds_nothing_and_one_that_finds_something() -> None:
    for graph in {o.graph for o in OUTCOMES}:
        mine = [o for o in OUTCOMES if o.graph == graph]
        assert any(not o.expected for o in mine), graph
        assert any(o.expected for o in mine), graph


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda o: f"{o.graph}:{o.name}")
def test_case(outcome: CaseOutcome) -> None:
    assert outcome.passed, f"expected {outcome.expected}, got {outcome.actual}"
