"""Train one field's model: ranker, out-of-fold calibration, None threshold.

Training documents are split into FOLDS; each fold is scored by a model fitted on
the others, and those out-of-fold picks (never scored by a model that saw them) fit
the calibrator and the None threshold. Learnt lists of values (gazetteer, lexicon)
are rebuilt inside every fit from that fit's documents only, with each training
document left out of its own counts, so no feature knows its document's answer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression

from agents.extract.calibration import Calibrator
from agents.extract.features import Described, Layout
from agents.extract.gazetteer import Gazetteer, Lexicon, learns_values
from agents.extract.ranker import Batch, Constant, FieldModel, Prepared, Scorer, prepare, tops, with_lexicon
from agents.extract.vocabulary import Vocabulary
from schemas.catalogue import Shape
from schemas.document import LabelledDocument
from schemas.values import comparison_key

FOLDS = 3
NEGATIVES_PER_DOCUMENT = 30


@dataclass(slots=True)
class _Example:
    batch: Batch
    labels: list[bool]
    gold: str | None
    document: LabelledDocument
    layout: Layout


def fit_calibrator(scores: np.ndarray, correct: np.ndarray) -> Calibrator:
    """The isotonic map from top candidate score to the probability of being right."""
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return Calibrator(isotonic.fit(scores, correct.astype(float)))


def _label(batch: Batch, gold: str | None) -> list[bool]:
    key = comparison_key(gold)
    return [key is not None and k == key for k in batch.keys]


def _examples(
    name: str, documents: Sequence[LabelledDocument], prepared: Sequence[Prepared], layouts: Sequence[Layout]
) -> list[_Example]:
    out = []
    for doc, (candidates, described), layout in zip(documents, prepared, layouts, strict=True):
        gold = doc.gold.get(name)
        batch = Batch(described, candidates, [comparison_key(c.value) for c in candidates])
        out.append(_Example(batch, _label(batch, gold), gold, doc, layout))
    return out


def _extended(e: _Example, lexicon: Lexicon | None, *, own: bool) -> _Example:
    batch = with_lexicon(lexicon, e.batch, e.document, e.layout, own_gold=e.gold, own=own)
    return e if batch is e.batch else _Example(batch, _label(batch, e.gold), e.gold, e.document, e.layout)


def _fit(examples: Sequence[_Example], seed: int, learnt: bool) -> Scorer:
    gazetteer = lexicon = None
    if learnt:
        lexicon = Lexicon.learn((e.gold, e.layout.identifiers) for e in examples)
        examples = [_extended(e, lexicon, own=True) for e in examples]
        gazetteer = Gazetteer.learn((comparison_key(e.gold), e.batch.keys) for e in examples)
    described, labels, known = _sample(examples, seed, gazetteer)
    vocabulary = Vocabulary.learn(described, labels)
    if not any(labels) or all(labels):
        return Scorer(vocabulary, gazetteer, lexicon, Constant() if any(labels) else None)
    classifier = HistGradientBoostingClassifier(
        max_iter=120,
        learning_rate=0.1,
        max_leaf_nodes=31,
        l2_regularization=1.0,
        min_samples_leaf=10,
        random_state=seed,
    )
    scorer = Scorer(vocabulary, gazetteer, lexicon, classifier)
    classifier.fit(scorer.matrix(described, known), np.asarray(labels, dtype=np.int8))
    return scorer


def _sample(
    examples: Sequence[_Example], seed: int, gazetteer: Gazetteer | None
) -> tuple[Described, list[bool], np.ndarray | None]:
    """All positives and at most NEGATIVES_PER_DOCUMENT random negatives per document.

    Most candidates are obviously wrong; sampling them keeps training to seconds.
    It shifts the classifier's base rate, which the out-of-fold calibration absorbs.
    """
    rng = random.Random(seed)
    described: list[Described] = []
    labels: list[bool] = []
    known: list[np.ndarray] = []
    for e in examples:
        negatives = [i for i, y in enumerate(e.labels) if not y]
        keep = [i for i, y in enumerate(e.labels) if y]
        keep += rng.sample(negatives, min(len(negatives), NEGATIVES_PER_DOCUMENT))
        described.append(e.batch.described.take(keep))
        labels += [e.labels[i] for i in keep]
        if gazetteer is not None:
            known.append(e.batch.known(gazetteer, own_gold=comparison_key(e.gold), own=True)[keep])
    return Described.concat(described), labels, np.concatenate(known) if known else None


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


def _out_of_fold(
    examples: Sequence[_Example], seed: int, learnt: bool
) -> tuple[np.ndarray, list[str | None]]:
    """(top score, predicted value) of each document, out of fold."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    fold_of = {i: k % FOLDS for k, i in enumerate(order)}
    scores = np.zeros(len(examples))
    preds: list[str | None] = [None] * len(examples)
    for fold in range(FOLDS):
        held = [i for i in range(len(examples)) if fold_of[i] == fold]
        scorer = _fit([examples[i] for i in range(len(examples)) if fold_of[i] != fold], seed, learnt)
        batches = [_extended(examples[i], scorer.lexicon, own=False).batch for i in held]
        for i, top in zip(held, tops(scorer, batches), strict=True):
            scores[i], preds[i] = top.score, top.value
    return scores, preds


def train_field(
    *,
    name: str,
    shape: Shape,
    documents: Sequence[LabelledDocument],
    seed: int = 0,
    prepared: Sequence[Prepared] | None = None,
    layouts: Sequence[Layout] | None = None,
) -> FieldModel:
    """Fit one field's ranker, its calibration (out of fold) and its None threshold.

    `layouts` and `prepared` (one per document, from `Layout` and `prepare`) save
    recomputing them when several fields are trained on the same documents.
    """
    layouts = layouts if layouts is not None else [Layout(d) for d in documents]
    if prepared is None:
        prepared = [prepare(shape, d, lay) for d, lay in zip(documents, layouts, strict=True)]
    examples = _examples(name, documents, prepared, layouts)
    learnt = learns_values(name, shape)
    scores, preds = _out_of_fold(examples, seed, learnt)
    golds = [e.gold for e in examples]
    correct = np.array([_correct(p, g) for p, g in zip(preds, golds, strict=True)])
    threshold = _none_threshold(scores, golds, correct)
    kept = (scores >= threshold) & np.array([p is not None for p in preds])
    calibrator = fit_calibrator(scores[kept], correct[kept]) if kept.any() else None
    absent = np.array([g is None for g in golds])
    # Laplace-smoothed: how often a None prediction was right out of fold
    none_conf = (float(absent[~kept].sum()) + 1.0) / (float((~kept).sum()) + 2.0)
    scorer = _fit(examples, seed, learnt)
    with_gold = [any(e.labels) for e in examples if e.gold is not None]
    metrics = {
        "oof_accuracy": float(np.where(kept, correct, absent).mean()),
        "candidate_recall": float(np.mean(with_gold)) if with_gold else 0.0,
        "documents": float(len(examples)),
    }
    return FieldModel(
        name,
        shape,
        scorer.vocabulary,
        scorer.classifier,
        calibrator,
        threshold,
        none_conf,
        metrics,
        scorer.gazetteer,
        scorer.lexicon,
    )
