"""Triage: a fast first look at each document (kind, and risk that a human must act).

The package's surface is what a worker serves: `OnnxTriageClassifier.load` serves a
versioned ONNX artifact with micro-batching, `ClaimsRiskScorer` the tabular auto-claim
fraud model. Training is offline and imported from its own modules, which serving never
imports (scikit-learn, skl2onnx): `agents.triage.train.train_triage` and
`agents.triage.claims_risk_train.train_claims_risk`.
"""

from agents.triage.claims_risk import ClaimsRiskScorer
from agents.triage.errors import InferenceFailed, ModelUnavailable, TrainingError, TriageError
from agents.triage.runtime import OnnxTriageClassifier

__all__ = [
    "ClaimsRiskScorer",
    "InferenceFailed",
    "ModelUnavailable",
    "OnnxTriageClassifier",
    "TrainingError",
    "TriageError",
]
