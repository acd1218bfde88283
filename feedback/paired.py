"""Paired differences between two models scored on the same documents, with intervals.

Method: the paired bootstrap over documents (Efron & Tibshirani ch. 16; Koehn 2004 for
the same test on NLP metrics). Each resample draws N documents with replacement and
recomputes both models' metric on that same draw, so what the interval reflects is the
variation between documents, and the correlation between two models that read the same
page is kept. Chosen over McNemar's test because McNemar gives a p-value for exact match
only, while we want an interval for every metric we report (exact match, F1, document
accuracy) in the units the tables use; on exact match the two agree on which
differences are clear. Percentile intervals, seeded: the same inputs give the same
interval on every machine.

Hand-written on numpy rather than `scipy.stats.bootstrap` because F1 is a ratio of sums
over the resample (not a mean of per-document values), and one index draw shared across
every field and both models is what makes the fields' intervals comparable; the code is
a dozen lines of sums over index arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

DEFAULT_RESAMPLES = 2000
_CHUNK = 250  # resamples drawn at once: bounds memory at _CHUNK x documents indices


class Difference(BaseModel):
    """candidate - baseline on one metric, with its 95 % paired-bootstrap interval."""

    metric: str
    baseline: float
    candidate: float
    difference: float
    low: float
    high: float

    @property
    def clear(self) -> bool:
        """True when the interval excludes zero: the difference is measured, not noise."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Outcomes:
    """Per-document 0/1 outcomes of one model on one field, aligned across models.

    `hit`: exact match (None == None counts); `tp`: a value predicted and right;
    `predicted`: a value predicted. F1 needs `support` too, which is the gold's and so
    shared by both models."""

    hit: np.ndarray
    tp: np.ndarray
    predicted: np.ndarray


def _f1(tp: np.ndarray, predicted: np.ndarray, support: np.ndarray) -> np.ndarray:
    precision = np.divide(tp, predicted, out=np.zeros_like(tp, dtype=float), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp, dtype=float), where=support > 0)
    total = precision + recall
    return np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)


def draws(n: int, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> list[np.ndarray]:
    """The resampled document indices, in chunks: shared by every metric of a comparison."""
    rng = np.random.default_rng(seed)
    out, left = [], resamples
    while left > 0:
        size = min(_CHUNK, left)
        out.append(rng.integers(0, n, size=(size, n)))
        left -= size
    return out


def _interval(samples: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)


def accuracy_difference(
    *, metric: str, baseline: np.ndarray, candidate: np.ndarray, index: list[np.ndarray]
) -> Difference:
    """Mean of 0/1 outcomes (exact match, document accuracy), candidate - baseline."""
    a, b = baseline.astype(float), candidate.astype(float)
    diff = b - a
    samples = np.concatenate([diff[i].mean(axis=1) for i in index])
    low, high = _interval(samples)
    return Difference(
        metric=metric,
        baseline=float(a.mean()),
        candidate=float(b.mean()),
        difference=float(diff.mean()),
        low=low,
        high=high,
    )


def f1_difference(
    *, baseline: Outcomes, candidate: Outcomes, support: np.ndarray, index: list[np.ndarray]
) -> Difference:
    """Field F1 (a ratio of sums, recomputed on each resample), candidate - baseline."""

    def f1_on(o: Outcomes, i: np.ndarray) -> np.ndarray:
        return _f1(o.tp[i].sum(axis=1), o.predicted[i].sum(axis=1), support[i].sum(axis=1))

    samples = np.concatenate([f1_on(candidate, i) - f1_on(baseline, i) for i in index])
    whole = np.arange(len(support))[None, :]
    a, b = float(f1_on(baseline, whole)[0]), float(f1_on(candidate, whole)[0])
    low, high = _interval(samples)
    return Difference(metric="f1", baseline=a, candidate=b, difference=b - a, low=low, high=high)
