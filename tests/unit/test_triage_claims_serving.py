"""The fraud model served: auto claims whose metadata carries the table's columns."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from agents.triage import OnnxTriageClassifier
from agents.triage.claims_risk import CATEGORICAL, NUMERIC, ClaimsRiskScorer
from agents.triage.claims_risk_train import train_claims_risk
from agents.triage.errors import ModelUnavailable
from agents.triage.runtime import FRAUD
from agents.triage.train import train_triage
from schemas.document import Document
from tests.unit.test_triage_claims_risk import _write_csv
from tests.unit.test_triage_samples import corpus

COLUMNS = (*NUMERIC, *CATEGORICAL)


@pytest.fixture(scope="module")
def rows_and_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, str]], Path, Path]:
    tmp = tmp_path_factory.mktemp("claims")
    csv_path = _write_csv(tmp / "claims.csv", 120)
    risk = train_claims_risk(csv_path=csv_path, out_dir=tmp / "risk", seed=0)
    triage = train_triage(documents=corpus(), out_dir=tmp / "triage")
    with csv_path.open(newline="") as fh:
        return list(csv.DictReader(fh)), triage, risk


def _auto_claim(i: int, row: dict[str, str], *, columns: tuple[str, ...] = COLUMNS) -> Document:
    return Document.from_text(
        document_id=f"auto-{i}",
        kind="claim",
        claim_type="auto",
        text=f"FIRST NOTICE OF LOSS\nPolicy number: {row['policy_number']}\nVehicle claim: 1200",
        metadata={c: row[c] for c in columns},
    )


def test_scorer_separates_frauds(rows_and_models: tuple[list[dict[str, str]], Path, Path]) -> None:
    rows, _, risk = rows_and_models
    scorer = ClaimsRiskScorer.load(risk)
    fraud = np.array([r["fraud_reported"] == "Y" for r in rows])
    scores = scorer.score(rows)
    assert scores.shape == (len(rows),) and scorer.version == risk.name
    assert scores[fraud].mean() > scores[~fraud].mean() + 0.5
    assert scorer.accepts(rows[0]) and not scorer.accepts({"age": "30"})


def test_missing_artifact_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="claims risk"):
        ClaimsRiskScorer.load(tmp_path)


async def test_auto_claims_with_columns_get_the_fraud_models_risk(
    rows_and_models: tuple[list[dict[str, str]], Path, Path],
) -> None:
    rows, triage, risk = rows_and_models
    scorer = ClaimsRiskScorer.load(risk)
    with_columns = _auto_claim(0, rows[0])
    partial = _auto_claim(1, rows[1], columns=COLUMNS[:5])
    invoice = corpus(n=2, seed=9)[0]
    async with OnnxTriageClassifier.load(triage, prefer_gpu=False, claims_risk=risk) as clf:
        scored, text_only, inv = [await clf.classify(d) for d in (with_columns, partial, invoice)]
    expected = float(scorer.score([rows[0]])[0])
    assert scored.risk == pytest.approx(expected) and scored.probabilities[FRAUD] == pytest.approx(expected)
    assert scored.model_version == f"{clf.version}+{scorer.version}"
    for result in (text_only, inv):  # without the columns, the text model's answer stands
        assert FRAUD not in result.probabilities and result.model_version == clf.version


async def test_unloadable_fraud_model_leaves_the_text_risk(
    rows_and_models: tuple[list[dict[str, str]], Path, Path], tmp_path: Path
) -> None:
    rows, triage, _ = rows_and_models
    async with OnnxTriageClassifier.load(triage, prefer_gpu=False, claims_risk=tmp_path) as clf:
        result = await clf.classify(_auto_claim(0, rows[0]))
    assert result.failure is None and FRAUD not in result.probabilities
