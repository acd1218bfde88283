"""Auto-claim fraud risk: training the tabular model and exporting it to ONNX.

Offline only (scikit-learn, skl2onnx); `agents.triage.claims_risk` serves the result.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from agents.triage.claims_risk import NUMERIC, TARGET, encode, read_claims, vocabulary
from agents.triage.errors import TrainingError


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
