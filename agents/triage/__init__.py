"""Triage: a fast first look at each document (kind, and risk that a human must act).

`train_triage` writes a versioned ONNX artifact; `OnnxTriageClassifier.load` serves it
with micro-batching. `train_claims_risk` is the tabular auto-claim fraud model.
"""

from agents.triage.claims_risk import ClaimsRiskScorer, train_claims_risk
from agents.triage.errors import InferenceFailed, ModelUnavailable, TrainingError, TriageError
from agents.triage.runtime import OnnxTriageClassifier
from agents.triage.train import kind_label, train_triage

__all__ = [
    "ClaimsRiskScorer",
    "InferenceFailed",
    "ModelUnavailable",
    "OnnxTriageClassifier",
    "TrainingError",
    "TriageError",
    "kind_label",
    "train_claims_risk",
    "train_triage",
]
