"""Auto-claim fraud risk: a tabular model on structured claim data, exported to ONNX.

Input is the widely shared auto insurance claims table (39 columns, `fraud_reported`
Y/N). Its licence is unknown, so it is read from wherever the caller points (the
shared data folder) and never copied. Evaluation is what the business asks: with
reviewers able to look at 20% of claims, which share of the frauds do they see?
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from agents.triage.errors import ModelUnavailable, TrainingError

TARGET = "fraud_reported"
NUMERIC = (
    "months_as_customer", "age", "policy_deductable", "policy_annual_premium",
    "umbrella_limit", "capital-gains", "capital-loss", "incident_hour_of_the_day",
    "number_of_vehicles_involved", "bodily_injuries", "witnesses", "total_claim_amount",
    "injury_claim", "property_claim", "vehicle_claim", "auto_year",
)  # fmt: skip
CATEGORICAL = (
    "policy_state", "policy_csl", "insured_sex", "insured_education_level",
    "insured_occupation", "insured_hobbies", "insured_relationship", "incident_type",
    "collision_type", "incident_severity", "authorities_contacted", "incident_state",
    "property_damage", "police_report_available", "auto_make",
)  # fmt: skip
# Identifiers, free text and dates are left out: they identify rows, not risk.


def read_claims(csv_path: Path) -> list[dict[str, str]]:
    try:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise TrainingError(f"cannot read {csv_path}: {exc}") from exc
    missing = {TARGET, *NUMERIC, *CATEGORICAL} - set(rows[0] if rows else ())
    if missing:
        raise TrainingError(f"{csv_path.name} lacks columns {sorted(missing)}")
    return rows


def vocabulary(rows: Sequence[Mapping[str, str]]) -> dict[str, list[str]]:
    return {col: sorted({r[col].strip() for r in rows}) for col in CATEGORICAL}


def encode(rows: Sequence[Mapping[str, str]], vocab: dict[str, list[str]]) -> NDArray[np.float32]:
    """Numbers as they are ("?" or empty → 0), categories one-hot (unknown → all zero)."""
    width = len(NUMERIC) + sum(len(v) for v in vocab.values())
    out = np.zeros((len(rows), width), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, col in enumerate(NUMERIC):
            try:
                out[i, j] = float(row[col])
            except ValueError:
                out[i, j] = 0.0
        offset = len(NUMERIC)
        for col in CATEGORICAL:
            values = vocab[col]
            value = row[col].strip()
            if value in values:
                out[i, offset + values.index(value)] = 1.0
            offset += len(values)
    return out


def recall_at_budget(y: NDArray[np.int64], scores: NDArray[np.float64], budget: float) -> float:
    """Share of positives among the top `budget` fraction by score."""
    k = max(1, math.ceil(budget * len(y)))
    top = np.argsort(-scores, kind="stable")[:k]
    return float(y[top].sum() / max(1, y.sum()))


def _gbm(seed: int) -> GradientBoostingClassifier:
    return GradientBoostingClassifier(
        n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=seed
    )


def _cv(
    model: Any, x: NDArray[np.float32], y: NDArray[np.int64], *, folds: int, seed: int, budget: float
) -> dict[str, Any]:
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof = cross_val_predict(model, x, y, cv=splitter, method="predict_proba")[:, 1]
    per_fold = [float(roc_auc_score(y[test], oof[test])) for _, test in splitter.split(x, y)]
    return {
        "roc_auc": round(float(roc_auc_score(y, oof)), 4),
        "roc_auc_per_fold": [round(a, 4) for a in per_fold],
        f"recall_at_{int(budget * 100)}pct_review": round(recall_at_budget(y, oof, budget), 4),
    }


def train_claims_risk(
    *,
    csv_path: Path,
    out_dir: Path,
    seed: int = 0,
    folds: int = 5,
    review_budget: float = 0.2,
) -> Path:
    """Cross-validate, fit on all rows, export `claims_risk.onnx` + metadata; returns the folder."""
    rows = read_claims(csv_path)
    y = np.array([1 if r[TARGET].strip().upper() == "Y" else 0 for r in rows], dtype=np.int64)
    if len(set(y.tolist())) < 2 or int(np.bincount(y).min()) < folds:
        raise TrainingError(f"need at least {folds} claims of each class")
    vocab = vocabulary(rows)
    x = encode(rows, vocab)
    model = _gbm(seed)
    metrics = {
        "folds": folds,
        "review_budget": review_budget,
        "positive_rate": round(float(y.mean()), 4),
        "gradient_boosting": _cv(model, x, y, folds=folds, seed=seed, budget=review_budget),
        "logistic_baseline": _cv(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            x, y, folds=folds, seed=seed, budget=review_budget,
        ),
    }  # fmt: skip
    model.fit(x, y)
    onx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, x.shape[1]]))],
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    blob = onx.SerializeToString()
    version = "claims-risk-" + hashlib.sha256(blob).hexdigest()[:12]
    folder = out_dir / version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "claims_risk.onnx").write_bytes(blob)
    metadata = {
        "version": version,
        "model_file": "claims_risk.onnx",
        "estimator": "GradientBoostingClassifier(150 trees, depth 3, lr 0.05, subsample 0.8)",
        "numeric": list(NUMERIC),
        "categorical": vocab,
        "rows": len(rows),
        "training_data_hash": hashlib.sha256(csv_path.read_bytes()).hexdigest(),
        "seed": seed,
        "trained_at": datetime.now(UTC).isoformat(),
        "cv_metrics": metrics,
    }
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return folder


class ClaimsRiskScorer:
    """Serves `claims_risk.onnx` on rows of the claims table's columns.

    Auto claims reach us as documents, whose extracted fields do not carry the table's
    tabular columns; an upstream claims system can send them as document metadata,
    and only then is this model the honest judge of the claim's risk.
    """

    def __init__(self, *, session: ort.InferenceSession, metadata: dict[str, Any]) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self.version: str = metadata["version"]
        self.vocab: dict[str, list[str]] = metadata["categorical"]
        self.columns: frozenset[str] = frozenset((*metadata["numeric"], *self.vocab))
        if tuple(metadata["numeric"]) != NUMERIC or tuple(self.vocab) != CATEGORICAL:
            raise ModelUnavailable(f"{self.version}: columns differ from this code's encoding")

    @classmethod
    def load(cls, path: Path, *, providers: Sequence[str] = ("CPUExecutionProvider",)) -> ClaimsRiskScorer:
        """`path` is an artifact folder written by `train_claims_risk`."""
        try:
            metadata = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
            options = ort.SessionOptions()
            options.log_severity_level = 3
            session = ort.InferenceSession(
                str(path / metadata["model_file"]), sess_options=options, providers=list(providers)
            )
        except Exception as exc:  # OSError, ValueError, KeyError, onnxruntime's own failures
            raise ModelUnavailable(f"cannot load claims risk model from {path}: {exc}") from exc
        return cls(session=session, metadata=metadata)

    def accepts(self, row: Mapping[str, str]) -> bool:
        """Whether a row carries every column the model reads."""
        return self.columns <= row.keys()

    def score(self, rows: Sequence[Mapping[str, str]]) -> NDArray[np.float64]:
        """Fraud probability per row (rows must be `accepts`-ed)."""
        x = encode(rows, self.vocab)
        outputs = self._session.run(None, {self._input: x})
        probs = next(o for o in outputs if getattr(o, "ndim", 0) == 2)
        return np.asarray(probs[:, 1], dtype=np.float64)
