"""Models a worker needs, trained from the shipped data when missing.

A fresh machine has none, so `ensure_models` trains them from the shipped labelled
data (training split only) before the first run; so it does for a version this code
can no longer serve (a feature-version change). The check is the registry's cheap one
(`agents.model_store.missing_or_unusable`: metadata, nothing loaded), and the training
code is imported only when something has to be trained, so a worker start with models
in place costs neither scikit-learn's import nor a model load.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agents.model_store import (
    CLAIMS_RISK,
    EXTRACTOR,
    SERVED,
    TRIAGE,
    Trainer,
    current,
    missing_or_unusable,
    promote,
    train_and_promote,
)
from feedback.corpus import training_documents


def _trainer(name: str) -> Trainer:
    if name == EXTRACTOR:
        from agents.extract.train import train_local_extractor

        return train_local_extractor
    if name == TRIAGE:
        from agents.triage.train import train_triage

        return train_triage
    raise ValueError(f"no default trainer for {name!r}")


def ensure_models(
    *, models_dir: Path, data_dir: Path, log: Callable[[str], object] = print
) -> dict[str, Path]:
    """The CURRENT artifact of each served model, training those that are missing or
    unusable on the shipped training split first."""
    problems = missing_or_unusable(models_dir, SERVED)
    docs = training_documents(data_dir) if problems else []
    for name in problems:
        log(f"training {name} on {len(docs)} labelled documents …")
        train_and_promote(models_dir=models_dir, name=name, trainer=_trainer(name), documents=docs)
    found = {name: current(models_dir, name) for name in SERVED}
    return {name: path for name, path in found.items() if path is not None}


def train_claims_risk_model(*, csv: Path, models_dir: Path) -> Path:
    """Train the auto-claim fraud model on `csv` and promote it; returns the artifact."""
    from agents.triage.claims_risk_train import train_claims_risk

    out = models_dir / CLAIMS_RISK
    out.mkdir(parents=True, exist_ok=True)
    path = train_claims_risk(csv_path=csv, out_dir=out)
    promote(models_dir, CLAIMS_RISK, path)
    return path
