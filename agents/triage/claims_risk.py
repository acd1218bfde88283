"""Auto-claim fraud risk: serving the tabular model (ONNX) on structured claim data.

Input is the widely shared auto insurance claims table (39 columns, `fraud_reported`
Y/N). Its licence is unknown, so it is read from wherever the caller points (the
shared data folder) and never copied. Evaluation is what the business asks: with
reviewers able to look at 20% of claims, which share of the frauds do they see?

This module is what a worker loads: the encoding and the ONNX scorer. Training
(scikit-learn, skl2onnx) is `agents.triage.claims_risk_train`, which serving never imports.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

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
