"""The promotion gate for registry versions (`autoclerk models promote`).

An extractor version (local or LLM) is scored with the active one on the declared
held-out split of all labelled data (`feedback.datasets.split_documents`: shipped data
plus exports), on each kind's mandatory fields, and compared on document accuracy with
`feedback.promotion.gate`: the same rule and tolerance as `autoclerk train extractor`.
Nothing is retrained: both versions are loaded as they are registered.

Triage and claims-risk versions are compared on the held-out metric their trainer
recorded (cross-validated accuracy and ROC-AUC); a version without it is refused, as
"better" cannot then be measured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from agents.ports import Extractor
from agents.registry import Gate, GateResult
from feedback.corpus import all_documents
from feedback.datasets import split_documents
from feedback.evaluation import EvalReport
from feedback.promotion import DEFAULT_TOLERANCE, gate, mandatory_reports
from schemas.document import LabelledDocument
from schemas.registry import ModelVersion

ExtractorLoader = Callable[[ModelVersion], Extractor]

RECORDED = {"triage": "cv_accuracy", "claims_risk": "cv_roc_auc"}


def held_out(data_dir: Path, extra: Sequence[Path] = ()) -> list[LabelledDocument]:
    """The declared held-out split: never trained on by a version built here."""
    return split_documents(all_documents(data_dir=data_dir, extra=extra))[1]


def extractor_gate(
    *, load: ExtractorLoader, test: Sequence[LabelledDocument], tolerance: float = DEFAULT_TOLERANCE
) -> Gate:
    async def reports(version: ModelVersion) -> dict[str, EvalReport]:
        extractor = load(version)
        try:
            return await mandatory_reports(extractor=extractor, test=test)
        finally:
            close = getattr(extractor, "aclose", None)  # an LLM extractor's HTTP client
            if close is not None:
                await close()

    def run(candidate: ModelVersion, active: ModelVersion) -> GateResult:
        cand, cur = asyncio.run(reports(candidate)), asyncio.run(reports(active))
        verdict = gate(candidate=cand, current=cur, tolerance=tolerance)
        return GateResult(
            passed=verdict.promote,
            reason=f"{verdict.reason} (document accuracy on {len(test)} held-out documents)",
            candidate=verdict.candidate,
            active=verdict.current,
        )

    return run


def recorded_metric_gate(metric: str, *, tolerance: float = DEFAULT_TOLERANCE) -> Gate:
    def run(candidate: ModelVersion, active: ModelVersion) -> GateResult:
        cand, cur = candidate.metrics.get(metric), active.metrics.get(metric)
        if not isinstance(cand, int | float):
            return GateResult(False, f"{candidate.ref} has no recorded {metric}", {}, {})
        if not isinstance(cur, int | float):
            return GateResult(True, f"{active.ref} has no recorded {metric}", {metric: float(cand)}, {})
        passed = cand >= cur - tolerance
        why = "not worse" if passed else "candidate is worse"
        reason = f"{why} on {metric}: {cand:.3f} vs {cur:.3f} (tolerance {tolerance:.3f})"
        return GateResult(passed, reason, {metric: float(cand)}, {metric: float(cur)})

    return run


def gate_for(
    name: str, *, load: ExtractorLoader, data_dir: Path, extra: Sequence[Path] = (), tolerance: float
) -> Gate:
    if name == "extractor":
        return extractor_gate(load=load, test=held_out(data_dir, extra), tolerance=tolerance)
    if name in RECORDED:
        return recorded_metric_gate(RECORDED[name], tolerance=tolerance)
    raise ValueError(f"no promotion gate for {name!r}")
