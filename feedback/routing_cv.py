"""Cross-fitted `autoclerk routing fit` (`--cv K`): the documents and the fold models.

The statistics live in `feedback.crossfit`; this module gathers the labelled documents,
trains the local extractor for each fold and keeps the out-of-fold predictions for reuse.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedback.routing_fit import Budget
from schemas.catalogue import MANDATORY
from schemas.document import Document, LabelledDocument
from schemas.fields import Extraction

if TYPE_CHECKING:
    from agents.extract.local import LocalExtractor


class _OnThisThread:
    """A local extractor predicting on the calling thread. `LocalExtractor.extract` hops to
    a worker thread, where the one-thread OpenMP limit set on the main thread (the CLI
    callback) does not apply: OpenMP's thread count is per calling thread."""

    def __init__(self, inner: LocalExtractor) -> None:
        self._inner = inner
        self.version = inner.version

    async def extract(self, document: Document) -> Extraction:
        return self._inner.extract_sync(document)


def predictions_key(*, documents: Sequence[LabelledDocument], folds: int, seed: int, grouping: str) -> str:
    """What out-of-fold predictions depend on: the documents, the folds and the extractor's
    code (its source files, the catalogue and normalisers it uses, feature version and
    scikit-learn's version)."""
    import sklearn

    import agents.extract.local as local
    from feedback.datasets import dataset_hash

    h = hashlib.sha256()
    h.update(json.dumps([dataset_hash(documents), folds, seed, grouping, local.FEATURE_VERSION]).encode())
    h.update(sklearn.__version__.encode())
    import schemas.catalogue
    import schemas.values

    shared = (Path(schemas.catalogue.__file__), Path(schemas.values.__file__))  # the fields and normalisers
    for source in [*sorted(Path(local.__file__).parent.glob("*.py")), *shared]:
        h.update(source.read_bytes())
    return h.hexdigest()[:16]


def _load_cached(path: Path) -> dict[str, Extraction] | None:
    if not path.is_file():
        return None
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {row["document_id"]: Extraction.model_validate(row["extraction"]) for row in rows}


def _save(predictions: dict[str, Extraction], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for doc_id, extraction in predictions.items():
            row = {"document_id": doc_id, "extraction": extraction.model_dump(mode="json")}
            fh.write(json.dumps(row) + "\n")
    tmp.replace(path)  # atomic: a crashed run leaves no half file to be reused


def oof_predictions(
    *,
    documents: Sequence[LabelledDocument],
    folds: int,
    grouping: str,
    seed: int,
    cache_dir: Path | None,
    reuse: bool = True,
    log: Any = print,
) -> dict[str, Extraction]:
    """Out-of-fold predictions by fold-trained local extractors; reused from `cache_dir`
    when the documents, folds and extractor code are unchanged (refitting at another
    target then takes seconds, not K trainings)."""
    from agents.extract.local import LocalExtractor
    from agents.extract.train import train_local_extractor
    from feedback.crossfit import group_key
    from feedback.evaluation import out_of_fold_predictions

    key = predictions_key(documents=documents, folds=folds, seed=seed, grouping=grouping)
    cached = cache_dir / f"oof-{key}.jsonl" if cache_dir else None
    if cached and reuse and (found := _load_cached(cached)) is not None:
        log(f"reusing out-of-fold predictions {cached}")
        return found
    with tempfile.TemporaryDirectory(prefix="autoclerk-crossfit-") as tmp:

        def train(docs: Sequence[LabelledDocument]) -> _OnThisThread:
            path = train_local_extractor(documents=docs, out_dir=Path(tmp), seed=seed)
            return _OnThisThread(LocalExtractor.load(path))

        predictions = asyncio.run(
            out_of_fold_predictions(
                documents=documents, train=train, folds=folds, seed=seed, group=group_key(grouping), log=log
            )
        )
    if cached:
        _save(predictions, cached)
    return predictions


def fit_routing_cv(
    *,
    documents: Sequence[LabelledDocument],
    folds: int,
    target_error: float,
    max_risk: float,
    grouping: str = "document",
    seed: int = 0,
    min_support: int = 30,
    confidence: float = 0.95,
    cache_dir: Path | None = None,
    reuse: bool = True,
    budget: Budget = "field",
    log: Any = print,
) -> dict[str, object]:
    """Cross-fitted thresholds file (see `feedback.crossfit`); returns the file's JSON."""
    from feedback.crossfit import cross_fit, crossfit_file, protocol_text

    predictions = oof_predictions(
        documents=documents,
        folds=folds,
        grouping=grouping,
        seed=seed,
        cache_dir=cache_dir,
        reuse=reuse,
        log=log,
    )
    result = cross_fit(
        predictions=predictions,
        documents=documents,
        target_error=target_error,
        mandatory=dict(MANDATORY),
        min_support=min_support,
        confidence=confidence,
        budget=budget,
    )
    protocol = protocol_text(documents=len(documents), folds=folds, grouping=grouping, halves=result.halves)
    return crossfit_file(result=result, predictions=predictions, max_risk=max_risk, protocol=protocol)
