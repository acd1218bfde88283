"""From a field's ranking evidence to the probability that its value is right.

The top candidate's score alone says little when two readings of one name compete
("HOME MASTER HARDWARE &" against the two-line "… & ELECTRICAL"): both score high and
one of them is wrong. So the evidence is the top score, the best score of any other
value (the margin), whether training documents had this very value (`known`) and how
many candidates agree on it. A logistic regression combines them and an isotonic map
makes the combination a probability; both are fitted on out-of-fold picks only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

EVIDENCE = ("logit_top", "logit_second", "known", "log_agree")
_EPS = 1e-4


def evidence(*, top: float, second: float, known: float, agree: float) -> list[float]:
    return [_logit(top), _logit(second), float(known > 0), float(np.log1p(agree))]


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return float(np.log(p / (1.0 - p)))


@dataclass(frozen=True, slots=True)
class Calibrator:
    weights: np.ndarray
    bias: float
    isotonic: IsotonicRegression

    @classmethod
    def fit(cls, rows: np.ndarray, correct: np.ndarray) -> Calibrator:
        """`rows`: one `evidence` vector per out-of-fold pick; `correct`: whether it was right."""
        weights, bias = np.zeros(len(EVIDENCE)), 0.0
        weights[0] = 1.0  # with one class only there is nothing to combine: top score
        if 0 < correct.sum() < len(correct):
            lr = LogisticRegression(C=1.0, max_iter=1000).fit(rows, correct.astype(int))
            weights, bias = lr.coef_[0].copy(), float(lr.intercept_[0])
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        isotonic.fit(rows @ weights + bias, correct.astype(float))
        return cls(weights, bias, isotonic)

    def __call__(self, row: list[float]) -> tuple[float, float]:
        """(calibrated probability, the combined score it came from in (0, 1))."""
        z = float(np.dot(self.weights, row) + self.bias)
        # what IsotonicRegression.predict computes (clipped linear interpolation),
        # without its per-call validation, which cost more than scoring the field
        iso = self.isotonic
        return float(np.interp(z, iso.X_thresholds_, iso.y_thresholds_)), 1.0 / (1.0 + np.exp(-z))
