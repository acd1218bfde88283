"""Decision graphs (GoRules JDM JSON in `rules/graphs/`) and the thin evaluator over them.

Pure: inputs in, verdict out; the clock and reference facts are passed in.
"""

from rules.errors import CaseFileError, GraphLoadError, RulesError
from rules.evaluator import ZenRulesEvaluator, graphs_version

__all__ = [
    "CaseFileError",
    "GraphLoadError",
    "RulesError",
    "ZenRulesEvaluator",
    "graphs_version",
]
