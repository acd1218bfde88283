"""One field's model at run time: score candidates, pick a value, say how sure we are.

A gradient-boosted classifier scores each candidate; candidates with the same value
pool their evidence (the best score wins), and the top value is the prediction.
Its raw score is not a probability of being right, so a calibrator fitted on
out-of-fold predictions (documents the scoring model never saw) turns it into
one (`agents.extract.calibration`). When a field may be absent, an out-of-fold
threshold on the top score decides None. Training lives in `agents.extract.fit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from agents.extract.calibration import Calibrator
from agents.extract.candidates import Candidate, candidates_for
from agents.extract.features import Described, Layout, describe
from agents.extract.gazetteer import Gazetteer, Lexicon
from agents.extract.vocabulary import Vocabulary
from schemas.catalogue import Shape
from schemas.document import Document
from schemas.values import comparison_key

if TYPE_CHECKING:  # fitted by agents.extract.fit; serving only calls predict_proba
    from sklearn.ensemble import HistGradientBoostingClassifier

Prepared = tuple[list[Candidate], Described]


@dataclass(slots=True)
class Pick:
    value: str | None
    candidate: Candidate | None
    score: float


class Constant:
    """Scorer for a field whose every candidate was right in training (one value)."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.tile([0.0, 1.0], (len(x), 1))


@dataclass(frozen=True, slots=True)
class Scorer:
    """What scores one field's candidates: learnt words, known values, the classifier."""

    vocabulary: Vocabulary
    gazetteer: Gazetteer | None
    lexicon: Lexicon | None
    classifier: HistGradientBoostingClassifier | Constant | None

    def matrix(self, described: Described, known: np.ndarray | None) -> np.ndarray:
        x = self.vocabulary.matrix(described)
        return x if known is None else np.hstack([x, known])


@dataclass(frozen=True, slots=True)
class Batch:
    """One document's candidates of one field, with their features and comparison keys."""

    described: Described
    candidates: list[Candidate]
    keys: list[str | None]
    backed: dict[str, float] = field(default_factory=dict)  # key -> lexicon votes

    def known(self, gazetteer: Gazetteer, *, own_gold: str | None = None, own: bool = False) -> np.ndarray:
        return gazetteer.columns(self.keys, backed=self.backed, own_gold=own_gold, own=own)


def with_lexicon(
    lexicon: Lexicon | None,
    batch: Batch,
    document: Document,
    layout: Layout,
    *,
    own_gold: str | None = None,
    own: bool = False,
) -> Batch:
    """`batch` plus the values the lexicon offers for this document's identifiers
    (`own`: a training document, left out of the lexicon's votes)."""
    if lexicon is None:
        return batch
    ids = layout.identifiers
    page = frozenset(batch.keys)
    extra = lexicon.candidates(layout.texts, ids, on_page=page, own_gold=own_gold, own=own)
    if not extra:
        return batch
    keys = [comparison_key(c.value) for c in extra]
    return Batch(
        Described.concat([batch.described, describe(document, extra, layout)]),
        batch.candidates + extra,
        batch.keys + keys,
        {k: c.extra["lexicon_votes"] for k, c in zip(keys, extra, strict=True) if k},
    )


def prepare(shape: Shape, document: Document, layout: Layout) -> Prepared:
    """A document's candidates of one shape and their features, shared by its fields."""
    candidates = candidates_for(shape, document)
    return candidates, describe(document, candidates, layout)


@dataclass(slots=True)
class FieldModel:
    name: str
    shape: Shape
    vocabulary: Vocabulary
    classifier: HistGradientBoostingClassifier | Constant | None
    calibrator: Calibrator | None
    none_threshold: float = 0.0
    none_confidence: float = 0.5
    metrics: dict[str, float] = field(default_factory=dict)
    gazetteer: Gazetteer | None = None
    lexicon: Lexicon | None = None

    def pick(self, document: Document, layout: Layout | None = None) -> tuple[Pick, float]:
        """The predicted value and its calibrated confidence."""
        lay = layout if layout is not None else Layout(document)
        return self.pick_from(document, lay, prepare(self.shape, document, lay))

    def pick_from(self, document: Document, layout: Layout, prepared: Prepared) -> tuple[Pick, float]:
        """As `pick`, from candidates already described (shared by fields of one shape)."""
        candidates, described = prepared
        keys = [comparison_key(c.value) for c in candidates] if self.gazetteer else []
        batch = with_lexicon(self.lexicon, Batch(described, candidates, keys), document, layout)
        scorer = Scorer(self.vocabulary, self.gazetteer, self.lexicon, self.classifier)
        top = tops(scorer, [batch])[0]
        if top.value is None or top.score < self.none_threshold:
            return Pick(None, None, top.score), self.none_confidence
        return top, self.calibrator(top.score) if self.calibrator else top.score


def tops(scorer: Scorer, batches: Sequence[Batch]) -> list[Pick]:
    """Best candidate of each document, scored in one call (per-call overhead dominates)."""
    rows = Described.concat([b.described for b in batches])
    if scorer.classifier is None or not len(rows):
        return [Pick(None, None, 0.0) for _ in batches]
    gazetteer = scorer.gazetteer
    known = np.concatenate([b.known(gazetteer) for b in batches]) if gazetteer else None
    scores = scorer.classifier.predict_proba(scorer.matrix(rows, known))[:, 1]
    picks, offset = [], 0
    for b in batches:
        if not b.candidates:
            picks.append(Pick(None, None, 0.0))
            continue
        part = scores[offset : offset + len(b.candidates)]
        offset += len(b.candidates)
        best = int(np.argmax(part))
        picks.append(Pick(b.candidates[best].value, b.candidates[best], float(part[best])))
    return picks
