"""`autoclerk eval DATASET`: train and score the local extractor on disjoint documents."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agents.extract.local import LocalExtractor
from agents.extract.train import train_local_extractor
from feedback.datasets import load_labelled_jsonl, sroie_document
from feedback.evaluation import EvalReport, cross_validate, holdout_evaluation
from schemas.document import LabelledDocument


def load_dataset(path: Path) -> list[LabelledDocument]:
    """SROIE's JSONL (records with `entities`) or ours (`LabelledDocument` per line)."""
    with path.open() as fh:
        first = json.loads(next(line for line in fh if line.strip()))
    if "entities" in first:
        with path.open() as fh:
            return [sroie_document(json.loads(line)) for line in fh if line.strip()]
    return load_labelled_jsonl(path)


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
