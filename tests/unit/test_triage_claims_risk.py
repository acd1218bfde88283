"""The auto-claim fraud model on a synthetic CSV with the real table's columns."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from agents.triage import TrainingError
from agents.triage.claims_risk import CATEGORICAL, NUMERIC, TARGET, encode
from agents.triage.claims_risk_train import recall_at_budget, train_claims_risk
from agents.triage.samples import auto_claim_documents

EXTRA = ("policy_number", "incident_date", "incident_location", "incident_city", "auto_model")


def _write_csv(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*NUMERIC, *CATEGORICAL, *EXTRA, TARGET])
        writer.writeheader()
        for i in range(n):
            fraud = rng.random() < 0.25
            row = {c: str(rng.randint(0, 5000)) for c in NUMERIC}
            row |= {c: rng.choice(["A", "B", "C", "?"]) for c in CATEGORICAL}
            # the signal: severe incidents with chess-playing insureds are the frauds
            row["incident_severity"] = "Major Damage" if fraud else rng.choice(["Minor", "Trivial"])
            row["insured_hobbies"] = "chess" if fraud and rng.random() < 0.7 else "reading"
            row |= {c: f"{c}-{i}" for c in EXTRA}
            row["incident_type"] = rng.choice(["Vehicle Theft", "Single Vehicle Collision"])
            row[TARGET] = "Y" if fraud else "N"
            writer.writerow(row)
    return path


def test_cross_validated_metrics_and_onnx_scores(tmp_path: Path) -> None:
    csv_path = _write_csv(tmp_path / "claims.csv", 120)
    folder = train_claims_risk(csv_path=csv_path, out_dir=tmp_path / "out", seed=0)
    meta = json.loads((folder / "metadata.json").read_text())
    gbm = meta["cv_metrics"]["gradient_boosting"]
    assert len(gbm["roc_auc_per_fold"]) == 5
    assert gbm["roc_auc"] > 0.9 and gbm["recall_at_20pct_review"] > 0.6
    assert "logistic_baseline" in meta["cv_metrics"]
    rows = list(csv.DictReader(csv_path.open()))
    x = encode(rows, meta["categorical"])
    session = ort.InferenceSession(str(folder / meta["model_file"]), providers=["CPUExecutionProvider"])
    probs = next(o for o in session.run(None, {"features": x}) if o.ndim == 2)[:, 1]
    fraud = np.array([r[TARGET] == "Y" for r in rows])
    assert probs[fraud].mean() > probs[~fraud].mean() + 0.5


def test_recall_at_budget_counts_positives_in_the_top_share() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7])
    assert recall_at_budget(y, scores, 0.2) == pytest.approx(1 / 3)
    assert recall_at_budget(y, scores, 0.3) == pytest.approx(2 / 3)


def test_refuses_a_table_without_the_label(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("age,total_claim_amount\n30,100\n")
    with pytest.raises(TrainingError, match="lacks columns"):
        train_claims_risk(csv_path=path, out_dir=tmp_path)


def test_rendered_documents_carry_the_fraud_label(tmp_path: Path) -> None:
    docs = auto_claim_documents(_write_csv(tmp_path / "claims.csv", 10))
    assert len(docs) == 10 and all(d.claim_type == "auto" for d in docs)
    assert {d.metadata["needs_review"] for d in docs} <= {"true", "false"}
    assert "Total claimed:" in docs[0].text
