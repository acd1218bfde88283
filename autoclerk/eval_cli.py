"""`autoclerk eval DATASET`: extraction quality on documents the model did not train on."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agents.extract.local import LocalExtractor, train_local_extractor
from feedback.datasets import load_labelled_jsonl, sroie_document
from feedback.evaluation import EvalReport, cross_validate, holdout_evaluation, write_report
from schemas.document import LabelledDocument

console = Console()


def load_dataset(path: Path) -> list[LabelledDocument]:
    """SROIE's JSONL (records with `entities`) or ours (`LabelledDocument` per line)."""
    with path.open() as fh:
        first = json.loads(next(line for line in fh if line.strip()))
    if "entities" in first:
        with path.open() as fh:
            return [sroie_document(json.loads(line)) for line in fh if line.strip()]
    return load_labelled_jsonl(path)


def _table(report: EvalReport) -> Table:
    t = Table(title=f"{report.kind}: {report.protocol}")
    for col in ("field", "exact match", "precision", "recall", "F1"):
        t.add_column(col, justify="left" if col == "field" else "right")
    for name, m in report.fields.items():
        t.add_row(name, f"{m.accuracy:.3f}", f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}")
    t.caption = (
        f"document accuracy {report.document_accuracy:.3f} · ECE {report.ece:.4f} · "
        f"straight-through {report.straight_through_rate:.1%} at ≤{report.target_error:.0%} error "
        f"(oracle threshold {report.straight_through_threshold})"
    )
    return t


def run_eval(
    *, path: Path, folds: int | None, target_error: float, fields: Sequence[str] | None, seed: int
) -> list[EvalReport]:
    docs = load_dataset(path)
    tmp = Path(tempfile.mkdtemp(prefix="autoclerk-eval-"))

    def train(train_docs: Sequence[LabelledDocument]) -> LocalExtractor:
        return LocalExtractor.load(train_local_extractor(documents=train_docs, out_dir=tmp, seed=seed))

    reports = []
    for kind in sorted({d.kind for d in docs}):
        if folds:
            coro = cross_validate(
                documents=docs,
                train=train,
                kind=kind,
                folds=folds,
                seed=seed,
                target_error=target_error,
                fields=fields,
            )
        else:
            coro = holdout_evaluation(
                documents=docs, train=train, kind=kind, target_error=target_error, fields=fields
            )
        reports.append(asyncio.run(coro))
    return reports


def eval_command(
    dataset: Path,
    *,
    cv: int | None,
    target_error: float,
    field: Sequence[str] | None,
    report: Path | None,
    seed: int,
) -> None:
    """Per-field accuracy and F1, document accuracy, ECE and straight-through rate of the
    local extractor, trained and scored on disjoint documents."""
    for r in run_eval(path=dataset, folds=cv, target_error=target_error, fields=field, seed=seed):
        console.print(_table(r))
        if report:
            write_report(r, report / f"{dataset.stem}-{r.kind}.json")
