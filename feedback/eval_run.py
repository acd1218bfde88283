"""`autoclerk eval DATASET`: train and score the local extractor on disjoint documents."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agents.extract.local import LocalExtractor
from agents.extract.train import train_local_extractor
from feedback.datasets import load_labelled_jsonl, load_sroie
from feedback.errors import DatasetError
from feedback.evaluation import EvalReport, cross_validate, holdout_evaluation
from schemas.document import LabelledDocument


def load_dataset(path: Path) -> list[LabelledDocument]:
    """SROIE's JSONL (records with `entities`) or ours (`LabelledDocument` per line)."""
    if not path.is_file():
        raise DatasetError(f"no dataset at {path}")
    with path.open(encoding="utf-8") as fh:
        line = next((line for line in fh if line.strip()), None)
    if line is None:
        raise DatasetError(f"{path}: empty file, no labelled documents")
    try:
        first = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: the first record is not JSON ({exc})") from exc
    if isinstance(first, dict) and "entities" in first:
        return load_sroie(path)
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
