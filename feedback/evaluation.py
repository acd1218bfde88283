"""Measure an extractor on documents it was not trained on.

`evaluate` scores predictions against gold: per-field exact match (case- and
whitespace-insensitive, via `comparison_key`), precision/recall/F1, token F1,
whole-document accuracy, expected calibration error and the straight-through rate.
`holdout_evaluation` and `cross_validate` train and predict so that no document is
ever scored by a model that saw it in training.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from agents.ports import Extractor
from feedback.datasets import split_documents
from feedback.errors import EvaluationError
from schemas.document import LabelledDocument
from schemas.fields import DocumentKind, Extraction
from schemas.values import comparison_key

Trainer = Callable[[Sequence[LabelledDocument]], Extractor]


class FieldMetrics(BaseModel):
    support: int  # documents whose gold has a value
    predicted: int  # documents with a predicted value
    accuracy: float  # exact match over all documents (None == None counts)
    precision: float
    recall: float
    f1: float
    token_f1: float  # mean word-overlap F1 where gold has a value: partial credit


class CalibrationBin(BaseModel):
    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float


class EvalReport(BaseModel):
    kind: DocumentKind
    documents: int
    fields: dict[str, FieldMetrics]
    document_accuracy: float
    ece: float
    calibration: list[CalibrationBin]
    target_error: float
    straight_through_rate: float
    straight_through_threshold: float | None
    straight_through_error: float
    model_version: str | None = None
    protocol: str = ""


def _tokens(value: str | None) -> list[str]:
    return value.casefold().replace(",", " ").split() if value else []


def _token_f1(pred: str | None, gold: str | None) -> float:
    p, g = _tokens(pred), _tokens(gold)
    if not p or not g:
        return float(p == g)
    common = sum(min(p.count(t), g.count(t)) for t in set(p))
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def _field_metrics(preds: list[str | None], golds: list[str | None]) -> FieldMetrics:
    pk = [comparison_key(p) for p in preds]
    gk = [comparison_key(g) for g in golds]
    correct = [a == b for a, b in zip(pk, gk, strict=True)]
    tp = sum(1 for a, b in zip(pk, gk, strict=True) if a is not None and a == b)
    predicted = sum(a is not None for a in pk)
    support = sum(b is not None for b in gk)
    precision = tp / predicted if predicted else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    partial = [_token_f1(p, g) for p, g in zip(preds, golds, strict=True) if g is not None]
    return FieldMetrics(
        support=support,
        predicted=predicted,
        accuracy=sum(correct) / len(correct) if correct else 0.0,
        precision=precision,
        recall=recall,
        f1=f1,
        token_f1=float(np.mean(partial)) if partial else 0.0,
    )


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], *, bins: int = 10
) -> tuple[float, list[CalibrationBin]]:
    """ECE over equal-width confidence bins: sum of |accuracy - confidence| weighted by bin size."""
    conf = np.asarray(confidences, dtype=float)
    hit = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # the last bin is closed so a confidence of exactly 1.0 is counted
    index = np.minimum(np.digitize(conf, edges[1:-1], right=True), bins - 1)
    out, ece = [], 0.0
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        if n == 0:
            continue
        mean_conf, acc = float(conf[mask].mean()), float(hit[mask].mean())
        ece += n / len(conf) * abs(acc - mean_conf)
        out.append(
            CalibrationBin(
                lower=edges[b], upper=edges[b + 1], count=n, mean_confidence=mean_conf, accuracy=acc
            )
        )
    return float(ece), out


def straight_through(
    confidences: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray, *, target_error: float
) -> tuple[float, float | None, float]:
    """(rate, threshold, error) of the largest set `confidence >= threshold` whose
    error rate is at most `target_error`; (0.0, None, 0.0) when no threshold works."""
    conf = np.asarray(confidences, dtype=float)
    hit = np.asarray(correct, dtype=bool)
    best: tuple[float, float | None, float] = (0.0, None, 0.0)
    for t in np.unique(conf):
        chosen = conf >= t
        error = 1.0 - float(hit[chosen].mean())
        rate = float(chosen.mean())
        if error <= target_error + 1e-12 and rate > best[0]:
            best = (rate, float(t), error)
    return best


def evaluate(
    *,
    predictions: Mapping[str, Extraction],
    gold: Sequence[LabelledDocument],
    kind: DocumentKind,
    target_error: float = 0.01,
    fields: Sequence[str] | None = None,
) -> EvalReport:
    """Score `predictions` (by document id) against the `gold` documents of `kind`.

    `fields` defaults to every field that appears in the gold labels. A document goes
    straight through when its minimum field confidence reaches the threshold; the
    threshold reported is the ORACLE one, chosen on these very predictions to show
    what is achievable. A routing threshold used in production must be fitted on
    held-out data (e.g. out-of-fold predictions), never on the documents it routes.
    """
    docs = [d for d in gold if d.kind == kind]
    if not docs:
        raise EvaluationError(f"no gold documents of kind {kind!r}")
    missing = [d.document_id for d in docs if d.document_id not in predictions]
    if missing:
        raise EvaluationError(f"{len(missing)} documents have no prediction, e.g. {missing[0]}")
    names = list(fields) if fields is not None else sorted({n for d in docs for n in d.gold})
    per_field: dict[str, FieldMetrics] = {}
    field_conf: list[float] = []
    field_hit: list[bool] = []
    doc_conf = np.ones(len(docs))
    doc_hit = np.array([predictions[d.document_id].failure is None for d in docs])
    for name in names:
        preds = [predictions[d.document_id].value(name) for d in docs]
        golds = [d.gold.get(name) for d in docs]
        per_field[name] = _field_metrics(preds, golds)
        hits = [comparison_key(p) == comparison_key(g) for p, g in zip(preds, golds, strict=True)]
        confs = [predictions[d.document_id].confidence(name) for d in docs]
        field_conf += confs
        field_hit += hits
        doc_conf = np.minimum(doc_conf, confs)
        doc_hit &= np.array(hits)
    ece, bins = expected_calibration_error(field_conf, field_hit)
    rate, threshold, error = straight_through(doc_conf, doc_hit, target_error=target_error)
    versions = {p.model_version for p in predictions.values()}
    return EvalReport(
        kind=kind,
        documents=len(docs),
        fields=per_field,
        document_accuracy=float(doc_hit.mean()),
        ece=ece,
        calibration=bins,
        target_error=target_error,
        straight_through_rate=rate,
        straight_through_threshold=threshold,
        straight_through_error=error,
        model_version=versions.pop() if len(versions) == 1 else None,
    )


async def predict(*, extractor: Extractor, documents: Sequence[LabelledDocument]) -> dict[str, Extraction]:
    """Run an extractor over documents, keyed by document id (gold never shown to it)."""
    out = {}
    for doc in documents:
        plain = doc.model_copy(update={"gold": {}})
        out[doc.document_id] = await extractor.extract(plain)
    return out


def _check_disjoint(train: Sequence[LabelledDocument], test: Sequence[LabelledDocument]) -> None:
    overlap = {d.document_id for d in train} & {d.document_id for d in test}
    if overlap:
        raise EvaluationError(f"{len(overlap)} documents are in both train and test")


async def holdout_evaluation(
    *,
    documents: Sequence[LabelledDocument],
    train: Trainer,
    kind: DocumentKind,
    target_error: float = 0.01,
    fields: Sequence[str] | None = None,
) -> EvalReport:
    """Train on the declared train split, score on the declared test split."""
    train_docs, test_docs = split_documents(documents)
    _check_disjoint(train_docs, test_docs)
    extractor = train(train_docs)
    preds = await predict(extractor=extractor, documents=[d for d in test_docs if d.kind == kind])
    report = evaluate(predictions=preds, gold=test_docs, kind=kind, target_error=target_error, fields=fields)
    protocol = f"declared split: trained on {len(train_docs)}, scored on {report.documents}"
    return report.model_copy(update={"protocol": protocol})


def same_content(document: LabelledDocument) -> str:
    """Fold group of a document: its kind and text. Two ids with the same text are the
    same document sent twice (SROIE has such pairs); apart, one would be trained on and
    the other scored, and the score would not be held out."""
    text = "\n".join(line.text for line in document.lines)
    return hashlib.sha256(f"{document.kind}\n{text}".encode()).hexdigest()


def kfold(
    documents: Sequence[LabelledDocument],
    *,
    folds: int,
    seed: int = 0,
    group: Callable[[LabelledDocument], str] = same_content,
) -> list[tuple[list[LabelledDocument], list[LabelledDocument]]]:
    """(train, held out) per fold. Whole groups are dealt to folds in a seeded shuffle,
    so documents of one group are never split between a fold's train and held-out sets."""
    if folds < 2:
        raise EvaluationError(f"cross-validation needs at least 2 folds, got {folds}")
    groups: dict[str, list[LabelledDocument]] = {}
    for doc in sorted(documents, key=lambda d: d.document_id):
        groups.setdefault(group(doc), []).append(doc)
    if len(groups) < folds:
        raise EvaluationError(f"{len(groups)} document groups cannot fill {folds} folds")
    # sorted before shuffling: the same folds on every machine, whatever the input order
    order = sorted(groups, key=lambda key: (groups[key][0].document_id, key))
    random.Random(seed).shuffle(order)
    out = []
    for k in range(folds):
        held = [d for key in order[k::folds] for d in groups[key]]
        rest = [d for i, key in enumerate(order) if i % folds != k for d in groups[key]]
        _check_disjoint(rest, held)
        out.append((rest, held))
    return out


async def out_of_fold_predictions(
    *,
    documents: Sequence[LabelledDocument],
    train: Trainer,
    folds: int,
    seed: int = 0,
    group: Callable[[LabelledDocument], str] = same_content,
    log: Callable[[str], Any] = print,
) -> dict[str, Extraction]:
    """Each document's prediction by the model trained on the other folds, by id."""
    out: dict[str, Extraction] = {}
    for k, (rest, held) in enumerate(kfold(documents, folds=folds, seed=seed, group=group), start=1):
        log(f"fold {k}/{folds}: training on {len(rest)} documents, predicting {len(held)} …")
        out.update(await predict(extractor=train(rest), documents=held))
    if len(out) != len(documents):
        raise EvaluationError(f"{len(out)} out-of-fold predictions for {len(documents)} documents")
    return out


async def cross_validate(
    *,
    documents: Sequence[LabelledDocument],
    train: Trainer,
    kind: DocumentKind,
    folds: int = 5,
    seed: int = 0,
    target_error: float = 0.01,
    fields: Sequence[str] | None = None,
) -> EvalReport:
    """K-fold: each document is predicted by the model trained without its fold; the
    pooled predictions are scored once. Folds group identical documents, not vendors."""
    docs = [d for d in documents if d.kind == kind]
    preds = await out_of_fold_predictions(documents=docs, train=train, folds=folds, seed=seed, log=_quiet)
    report = evaluate(predictions=preds, gold=docs, kind=kind, target_error=target_error, fields=fields)
    return report.model_copy(update={"protocol": f"{folds}-fold cross-validation, seed {seed}"})


def _quiet(_: str) -> None:
    pass


def write_report(report: EvalReport, path: Path) -> None:
    """The report as indented JSON, for CI artifacts and the model registry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2))
