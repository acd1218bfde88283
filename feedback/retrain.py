"""`autoclerk train extractor`: retrain on shipped data plus exported labels, and promote
only through the gate (`feedback.promotion`).

The candidate trains on the declared train split of everything; both it and the
CURRENT model are then scored on the declared test split of everything, so neither
is scored on a document it trained on (as long as CURRENT, too, was trained here).
A refused candidate stays on disk beside the others, for inspection; CURRENT does not move.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agents.extract.errors import ModelArtifactError
from agents.extract.local import LocalExtractor
from agents.extract.train import train_local_extractor
from agents.model_store import EXTRACTOR, current, promote
from feedback.corpus import all_documents
from feedback.datasets import split_documents
from feedback.evaluation import EvalReport
from feedback.promotion import DEFAULT_TOLERANCE, GateVerdict, gate, mandatory_reports
from schemas.document import LabelledDocument

Log = Callable[[str], None]


@dataclass(frozen=True)
class Retrained:
    artifact: Path
    verdict: GateVerdict
    promoted: bool


def _report_line(name: str, reports: dict[str, EvalReport]) -> str:
    parts = [f"{kind} {r.document_accuracy:.3f} on {r.documents}" for kind, r in reports.items()]
    return f"{name}: document accuracy (mandatory fields) " + ", ".join(parts)


def _current_reports(
    *, models_dir: Path, test: Sequence[LabelledDocument], log: Log
) -> dict[str, EvalReport] | None:
    path = current(models_dir, EXTRACTOR)
    if path is None:
        return None
    try:
        extractor = LocalExtractor.load(path)
    except ModelArtifactError as exc:
        log(f"current model unusable, not compared: {exc}")
        return None
    reports = asyncio.run(mandatory_reports(extractor=extractor, test=test))
    log(_report_line(f"current   {path.name}", reports))
    return reports


def retrain_extractor(
    *,
    models_dir: Path,
    data_dir: Path,
    extra: Sequence[Path] = (),
    force: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
    log: Log = print,
) -> Retrained:
    """Train a candidate, score it and CURRENT on the test split, promote through the gate."""
    train, test = split_documents(all_documents(data_dir=data_dir, extra=extra))
    log(f"training on {len(train)} documents ({len(extra)} extra file(s)); scoring on {len(test)} held out")
    out = models_dir / EXTRACTOR
    out.mkdir(parents=True, exist_ok=True)
    artifact = train_local_extractor(documents=train, out_dir=out)
    candidate = asyncio.run(mandatory_reports(extractor=LocalExtractor.load(artifact), test=test))
    log(_report_line(f"candidate {artifact.name}", candidate))
    verdict = gate(
        candidate=candidate,
        current=_current_reports(models_dir=models_dir, test=test, log=log),
        tolerance=tolerance,
        force=force,
    )
    if verdict.promote:
        promote(models_dir, EXTRACTOR, artifact)
    log(("promoted: " if verdict.promote else "NOT promoted: ") + verdict.reason)
    return Retrained(artifact=artifact, verdict=verdict, promoted=verdict.promote)
