"""One field's model: score candidates, pick a value, say how sure we are.

A gradient-boosted classifier scores each candidate; candidates with the same value
pool their evidence (the best score wins), and the top value is the prediction.
Its raw score is not a probability of being right, so an isotonic map fitted on
out-of-fold predictions (documents the scoring model never saw) turns it into one.
When a field may be absent, an out-of-fold threshold on the top score decides None.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression

from agents.extract.candidates import Candidate, candidates_for
from agents.extract.features import Described, Layout, Vocabulary, describe
from agents.extract.normalize import Shape, comparison_key
from schemas.document import Document, LabelledDocument

FOLDS = 3
NEGATIVES_PER_DOCUMENT = 30
TIE_BREAK = 1e-3


@dataclass(slots=True)
class Pick:
    value: str | None
    candidate: Candidate | None
    score: float


@dataclass(slots=True)
class _Example:
    described: Described
    candidates: list[Candidate]
    labels: list[bool]
    gold: str | None


@dataclass(slots=True)
class FieldModel:
    name: str
    shape: Shape
    vocabulary: Vocabulary
    classifier: HistGradientBoostingClassifier | _Constant | None
    calibrator: IsotonicRegression | None
    none_threshold: float = 0.0
    none_confidence: float = 0.5
    metrics: dict[str, float] = field(default_factory=dict)

    def pick(self, document: Document, layout: Layout | None = None) -> tuple[Pick, float]:
        """The predicted value and its calibrated confidence."""
        candidates = candidates_for(self.shape, document)
        return self.pick_from(candidates, describe(document, candidates, layout))

    def pick_from(self, candidates: list[Candidate], described: Described) -> tuple[Pick, float]:
        """As `pick`, from candidates already described (shared by fields of one shape)."""
        top = _tops(self.vocabulary, self.classifier, [(described, candidates)])[0]
        if top.value is None or top.score < self.none_threshold:
            return Pick(None, None, top.score), self.none_confidence
        return top, self.confidence(top.score)

    def confidence(self, score: float) -> float:
        if self.calibrator is None:
            return float(score)
        # what IsotonicRegression.predict computes (clipped linear interpolation),
        # without its per-call validation, which cost more than the rest of the field
        cal = self.calibrator
        calibrated = float(np.interp(score, cal.X_thresholds_, cal.y_thresholds_))
        # Isotonic steps tie many documents; the raw score orders them within a step
        # (by at most TIE_BREAK, far below any calibration error we can measure).
        return float(np.clip(calibrated - TIE_BREAK * (1.0 - score), 0.0, 1.0))


class _Constant:
    """Scorer for a field whose every candidate was right in training (one value)."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.tile([0.0, 1.0], (len(x), 1))


def _tops(
    vocabulary: Vocabulary,
    classifier: HistGradientBoostingClassifier | _Constant | None,
    batch: Sequence[tuple[Described, list[Candidate]]],
) -> list[Pick]:
    """Best candidate of each document, scored in one call (per-call overhead dominates)."""
    rows = Described.concat([described for described, _ in batch])
    if classifier is None or not len(rows):
        return [Pick(None, None, 0.0) for _ in batch]
    scores = classifier.predict_proba(vocabulary.matrix(rows))[:, 1]
    picks, offset = [], 0
    for _, candidates in batch:
        if not candidates:
            picks.append(Pick(None, None, 0.0))
            continue
        part = scores[offset : offset + len(candidates)]
        best = int(np.argmax(part))
        picks.append(Pick(candidates[best].value, candidates[best], float(part[best])))
        offset += len(candidates)
    return picks


Prepared = tuple[list[Candidate], Described]


def prepare(shape: Shape, document: Document, layout: Layout) -> Prepared:
    """A document's candidates of one shape and their features, shared by its fields."""
    candidates = candidates_for(shape, document)
    return candidates, describe(document, candidates, layout)


def _examples(
    name: str, documents: Sequence[LabelledDocument], prepared: Sequence[Prepared]
) -> list[_Example]:
    out = []
    for doc, (candidates, described) in zip(documents, prepared, strict=True):
        gold = doc.gold.get(name)
        key = comparison_key(gold)
        labels = [key is not None and comparison_key(c.value) == key for c in candidates]
        out.append(_Example(described, candidates, labels, gold))
    return out


def _fit(
    examples: Sequence[_Example], seed: int
) -> tuple[Vocabulary, HistGradientBoostingClassifier | _Constant | None]:
    described, labels = _sample(examples, seed)
    vocabulary = Vocabulary.learn(described, labels)
    if not any(labels):
        return vocabulary, None
    if all(labels):
        return vocabulary, _Constant()
    classifier = HistGradientBoostingClassifier(
        max_iter=120,
        learning_rate=0.1,
        max_leaf_nodes=31,
        l2_regularization=1.0,
        min_samples_leaf=10,
        random_state=seed,
    )
    classifier.fit(vocabulary.matrix(described), np.asarray(labels, dtype=np.int8))
    return vocabulary, classifier


def _sample(examples: Sequence[_Example], seed: int) -> tuple[Described, list[bool]]:
    """All positives and at most NEGATIVES_PER_DOCUMENT random negatives per document.

    Most candidates are obviously wrong; sampling them keeps training to seconds.
    It shifts the classifier's base rate, which the out-of-fold calibration absorbs.
    """
    rng = random.Random(seed)
    described: list[Described] = []
    labels: list[bool] = []
    for e in examples:
        negatives = [i for i, y in enumerate(e.labels) if not y]
        keep = [i for i, y in enumerate(e.labels) if y]
        keep += rng.sample(negatives, min(len(negatives), NEGATIVES_PER_DOCUMENT))
        described.append(e.described.take(keep))
        labels += [e.labels[i] for i in keep]
    return Described.concat(described), labels


def _correct(pred: str | None, gold: str | None) -> bool:
    return comparison_key(pred) == comparison_key(gold)


def _none_threshold(scores: np.ndarray, golds: list[str | None], correct: np.ndarray) -> float:
    """Top-score threshold below which predicting None is right more often than not."""
    absent = np.array([g is None for g in golds])
    if not absent.any():
        return 0.0
    best_t, best_acc = 0.0, -1.0
    for t in np.unique(np.concatenate([[0.0], scores])):
        acc = np.where(scores < t, absent, correct).mean()
        if acc > best_acc:
            best_t, best_acc = float(t), float(acc)
    return best_t


def train_field(
    *,
    name: str,
    shape: Shape,
    documents: Sequence[LabelledDocument],
    seed: int = 0,
    prepared: Sequence[Prepared] | None = None,
) -> FieldModel:
    """Fit one field's ranker, its calibration (out of fold) and its None threshold.

    `prepared` (one per document, from `prepare`) saves recomputing candidates and
    features when several fields of one shape are trained on the same documents.
    """
    if prepared is None:
        prepared = [prepare(shape, d, Layout(d)) for d in documents]
    examples = _examples(name, documents, prepared)
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    fold_of = {i: k % FOLDS for k, i in enumerate(order)}
    scores = np.zeros(len(examples))
    preds: list[str | None] = [None] * len(examples)
    for fold in range(FOLDS):
        held = [i for i in range(len(examples)) if fold_of[i] == fold]
        vocab, clf = _fit([examples[i] for i in range(len(examples)) if fold_of[i] != fold], seed)
        batch = [(examples[i].described, examples[i].candidates) for i in held]
        for i, top in zip(held, _tops(vocab, clf, batch), strict=True):
            scores[i], preds[i] = top.score, top.value
    golds = [e.gold for e in examples]
    correct = np.array([_correct(p, g) for p, g in zip(preds, golds, strict=True)])
    threshold = _none_threshold(scores, golds, correct)
    kept = (scores >= threshold) & np.array([p is not None for p in preds])
    calibrator = None
    if kept.any():
        calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        calibrator.fit(scores[kept], correct[kept].astype(float))
    absent = np.array([g is None for g in golds])
    # Laplace-smoothed: how often a None prediction was right out of fold
    none_conf = (float(absent[~kept].sum()) + 1.0) / (float((~kept).sum()) + 2.0)
    vocab, clf = _fit(examples, seed)
    with_gold = [any(e.labels) for e in examples if e.gold is not None]
    recall = float(np.mean(with_gold)) if with_gold else 0.0
    metrics = {
        "oof_accuracy": float(np.where(kept, correct, absent).mean()),
        "candidate_recall": float(recall),
        "documents": float(len(examples)),
    }
    return FieldModel(name, shape, vocab, clf, calibrator, threshold, none_conf, metrics)
