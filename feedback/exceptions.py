"""Exception labels for the triage classifier: would a person have had to step in?

The triage risk model learns from documents whose metadata says `needs_review`
(true/false). Reviewed documents carry it from what the reviewer did (exports of
reviewer corrections); that is the real history and always wins. Before there is
enough of it, the labelled datasets give a stand-in with the same meaning: a document
needs a person when the extractor, predicting it out of fold (a model that never
trained on it), gets a mandatory field wrong or fails, because that document would
have gone to review with a wrong value to correct.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.document import LabelledDocument
from schemas.fields import Extraction
from schemas.values import comparison_key

LABEL = "needs_review"
SOURCE = "needs_review_source"


def needs_person(*, document: LabelledDocument, prediction: Extraction, mandatory: Sequence[str]) -> bool:
    if prediction.failure is not None:
        return True
    return any(
        comparison_key(prediction.value(name)) != comparison_key(document.gold.get(name))
        for name in mandatory
        if name in document.gold
    )


def label_exceptions(
    *,
    documents: Sequence[LabelledDocument],
    predictions: Mapping[str, Extraction],
    mandatory: Mapping[str, Sequence[str]],
) -> list[LabelledDocument]:
    """`documents` with `needs_review` set from out-of-fold `predictions`, except where
    a label is already present (reviewers' history) or no prediction was made."""
    out = []
    for doc in documents:
        prediction = predictions.get(doc.document_id)
        if doc.metadata.get(LABEL) or prediction is None:
            out.append(doc)
            continue
        wrong = needs_person(document=doc, prediction=prediction, mandatory=mandatory.get(doc.kind, ()))
        meta = {
            **doc.metadata,
            LABEL: "true" if wrong else "false",
            SOURCE: f"out-of-fold {prediction.model_version}",
        }
        out.append(doc.model_copy(update={"metadata": meta}))
    return out
