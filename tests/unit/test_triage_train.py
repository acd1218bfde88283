from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from agents.triage import TrainingError, train_triage
from agents.triage.features import FEATURE_VERSION, N_FEATURES, Featurizer
from agents.triage.train import data_hash
from tests.unit.test_triage_samples import corpus


def test_artifact_has_model_metadata_and_cross_validated_metrics(tmp_path: Path) -> None:
    docs = corpus()
    folder = train_triage(documents=docs, out_dir=tmp_path, seed=0)
    meta = json.loads((folder / "metadata.json").read_text())
    assert folder.name == meta["version"] and folder.parent == tmp_path
    assert meta["labels"] == ["claim:auto", "claim:health", "invoice"]
    assert meta["feature_version"] == FEATURE_VERSION
    assert meta["training_data_hash"] == data_hash(docs)
    assert meta["cv_metrics"]["folds"] == 5
    assert meta["cv_metrics"]["support"] == {"claim:auto": 30, "claim:health": 15, "invoice": 15}
    assert meta["cv_metrics"]["macro_f1"] > 0.9
    # only the auto claims carry needs_review labels, so only they get a learnt risk
    assert meta["risk"]["kinds"] == ["claim:auto"] and meta["risk"]["labelled"] == 30
    assert (folder / "risk.onnx").is_file()


def test_onnx_graph_reads_the_runtime_features(tmp_path: Path) -> None:
    folder = train_triage(documents=corpus(), out_dir=tmp_path)
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    x = Featurizer().transform(["TOTAL AMOUNT: 12.00 THANK YOU", "Diagnosis: E11.9"])
    assert x.shape == (2, N_FEATURES)
    probs = next(o for o in session.run(None, {"features": x}) if o.ndim == 2)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_same_data_and_seed_give_the_same_version(tmp_path: Path) -> None:
    first = train_triage(documents=corpus(), out_dir=tmp_path, seed=1)
    second = train_triage(documents=corpus(), out_dir=tmp_path, seed=1)
    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_refuses_a_single_kind(tmp_path: Path) -> None:
    invoices = [d for d in corpus() if d.kind == "invoice"]
    with pytest.raises(TrainingError, match="two document kinds"):
        train_triage(documents=invoices, out_dir=tmp_path)
