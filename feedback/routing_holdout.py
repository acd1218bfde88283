"""`autoclerk routing fit --cv 0`: thresholds fitted and reported on the declared split.

The extractor scored must not have seen the documents it is scored on: we use the
promoted (CURRENT) local extractor only when its metadata shows it trained on exactly
the declared train split, and train one on that split when none exists yet. Its
predictions on the declared test split are cut in two by hash: thresholds are fitted on
one half, and the straight-through rate and error are reported on the other.
(The default, cross-fitted protocol is `feedback.routing_cv`.)
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.model_store import EXTRACTOR, current, train_and_promote
from agents.routing import MANDATORY
from feedback.corpus import labelled_documents
from feedback.routing_fit import fit_thresholds, heldout_report, split_in_two, thresholds_file
from schemas.document import LabelledDocument

if TYPE_CHECKING:
    from agents.extract.local import LocalExtractor


class UnverifiedModelError(Exception):
    """The promoted extractor may have trained on the documents we would score it on."""


def training_hash(documents: Sequence[LabelledDocument]) -> str:
    # Mirrors the hash `train_local_extractor` records as `training_data_sha256`; if the
    # two ever drift, the check below refuses the model rather than trusting it.
    h = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.document_id):
        h.update(doc.model_dump_json(exclude={"split"}).encode())
    return h.hexdigest()


def held_out_extractor(
    *, models_dir: Path, train: Sequence[LabelledDocument], log: Any = print
) -> LocalExtractor:
    """The CURRENT extractor if it trained on exactly `train`; a new one if none exists."""
    # imported here: scikit-learn and friends cost a second at every CLI start
    from agents.extract.local import LocalExtractor
    from agents.extract.train import train_local_extractor

    path = current(models_dir, EXTRACTOR)
    if path is None:
        log(f"no extractor yet: training on the {len(train)} documents of the train split …")
        path = train_and_promote(
            models_dir=models_dir, name=EXTRACTOR, trainer=train_local_extractor, documents=train
        )
    extractor = LocalExtractor.load(path)
    if extractor.metadata.get("training_data_sha256") != training_hash(train):
        raise UnverifiedModelError(
            f"{path.name} did not train on exactly the declared train split "
            f"({extractor.metadata.get('documents')} vs {len(train)} documents): its test "
            "scores would not be held out; run `autoclerk train extractor` first"
        )
    return extractor


def fit_routing(
    *,
    models_dir: Path,
    data_dir: Path,
    target_error: float,
    max_risk: float,
    min_support: int = 30,
    confidence: float = 0.95,
    log: Any = print,
) -> dict[str, object]:
    """Fit on one half of the test split, report on the other; returns the file's JSON."""
    from feedback.datasets import split_documents
    from feedback.evaluation import predict

    train, test = split_documents(labelled_documents(data_dir))
    extractor = held_out_extractor(models_dir=models_dir, train=train, log=log)
    mandatory = dict(MANDATORY)
    fit_docs, report_docs = split_in_two(test)
    predictions = asyncio.run(predict(extractor=extractor, documents=test))
    fitted = fit_thresholds(
        predictions=[predictions[d.document_id] for d in fit_docs],
        gold=fit_docs,
        target_error=target_error,
        mandatory=mandatory,
        min_support=min_support,
        confidence=confidence,
    )
    heldout = heldout_report(
        thresholds=fitted.thresholds(),
        predictions=[predictions[d.document_id] for d in report_docs],
        gold=report_docs,
        mandatory=mandatory,
        confidence=confidence,
    )
    protocol = (
        f"extractor trained on the declared train split ({len(train)} documents); its "
        f"predictions on the test split ({len(test)}) cut in two by hash: thresholds fitted "
        f"on {len(fit_docs)}, straight-through measured on the other {len(report_docs)}"
    )
    return thresholds_file(
        fitted=fitted,
        heldout=heldout,
        model_version=extractor.version,
        max_risk=max_risk,
        protocol=protocol,
    )
