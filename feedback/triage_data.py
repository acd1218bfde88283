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

from agents.model_store import TRIAGE, oof_dir, train_and_promote
from feedback.corpus import all_documents
from feedback.datasets import split_documents
from feedback.exceptions import LABEL, label_exceptions
from feedback.routing_cv import oof_predictions
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
            cache_dir=oof_dir(models_dir),
            log=log,
        )
        docs = label_exceptions(documents=docs, predictions=predictions, mandatory=MANDATORY)
    train, _ = split_documents(docs)
    labelled = [d for d in train if d.metadata.get(LABEL)]
    positive = sum(d.metadata[LABEL] == "true" for d in labelled)
    log(f"triage: {len(train)} training documents, {len(labelled)} labelled for risk, {positive} positive")
    return train


def retrain_triage(
    *,
    models_dir: Path,
    data_dir: Path,
    extra: Sequence[Path] = (),
    exceptions_cv: int = 0,
    log: Log = print,
) -> Path:
    """Train the triage classifier on `triage_documents` and promote it; returns the artifact."""
    from agents.triage.train import train_triage

    docs = triage_documents(
        data_dir=data_dir, models_dir=models_dir, extra=extra, exceptions_cv=exceptions_cv, log=log
    )
    return train_and_promote(models_dir=models_dir, name=TRIAGE, trainer=train_triage, documents=docs)
