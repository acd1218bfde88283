"""`autoclerk train triage`: the triage classifier's training documents and labels.

Document kind comes with every labelled document. The risk model ("a person had to
step in") needs `needs_review` labels: exported reviews carry the reviewer's answer
(`--data`), and `--exceptions-cv K` adds a stand-in for the shipped documents from
out-of-fold extraction (`feedback.exceptions`). The out-of-fold predictions are the
ones `routing fit --cv` keeps, so after a routing fit this costs no training at all.
The triage model trains on the declared train split only, like the extractor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from autoclerk.models import all_documents
from autoclerk.routing_cv import oof_predictions
from feedback.datasets import split_documents
from feedback.exceptions import LABEL, label_exceptions
from schemas.catalogue import MANDATORY
from schemas.document import LabelledDocument

Log = Callable[[str], None]


def triage_documents(
    *,
    data_dir: Path,
    models_dir: Path,
    extra: Sequence[Path],
    exceptions_cv: int,
    seed: int = 0,
    log: Log = print,
) -> list[LabelledDocument]:
    """Train-split documents for the triage classifier, with exception labels where known."""
    docs = all_documents(data_dir=data_dir, extra=extra)
    if exceptions_cv:
        # Over both splits: a label is about the document, and out-of-fold means no
        # prediction comes from a model that trained on its document.
        predictions = oof_predictions(
            documents=docs,
            folds=exceptions_cv,
            grouping="document",
            seed=seed,
            cache_dir=models_dir / "routing" / "oof",
            log=log,
        )
        docs = label_exceptions(documents=docs, predictions=predictions, mandatory=MANDATORY)
    train, _ = split_documents(docs)
    labelled = [d for d in train if d.metadata.get(LABEL)]
    positive = sum(d.metadata[LABEL] == "true" for d in labelled)
    log(f"triage: {len(train)} training documents, {len(labelled)} labelled for risk, {positive} positive")
    return train
