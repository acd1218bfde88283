from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from agents.triage import TrainingError
from agents.triage.features import FEATURE_VERSION, N_FEATURES, Featurizer
from agents.triage.train import data_hash, train_triage
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
    texts = ["TOTAL AMOUNT: 12.00 THANK YOU", "Diagnosis: E11.9 Patient name Policy number"]
    indices, values = Featurizer().padded(texts)
    probs = next(o for o in session.run(None, {"indices": indices, "values": values}) if o.ndim == 2)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # Padding a short row to the batch's width must not change its answer.
    alone = Featurizer().padded(texts[:1])
    single = next(o for o in session.run(None, {"indices": alone[0], "values": alone[1]}) if o.ndim == 2)
    np.testing.assert_allclose(single[0], probs[0], rtol=1e-5)


def test_padded_features_are_the_sparse_rows() -> None:
    texts = ["Invoice no. INV-7, total 12.50", "", "Diagnosis E11.9 diagnosis"]
    feat = Featurizer()
    x = feat.sparse(texts)
    assert x.shape == (3, N_FEATURES)
    # each half (characters, words) of a non-empty row is l2-normalised
    np.testing.assert_allclose(np.asarray(x.multiply(x).sum(axis=1)).ravel(), [2.0, 0.0, 2.0], rtol=1e-5)
    indices, values = feat.padded(texts)
    dense = np.zeros((3, N_FEATURES), dtype=np.float32)
    np.add.at(dense, (np.arange(3)[:, None].repeat(indices.shape[1], axis=1), indices), values)
    np.testing.assert_array_equal(dense, x.toarray())
    # a batch featurises each text as it would alone (no n-gram spans two texts)
    np.testing.assert_array_equal(feat.sparse(texts[2:]).toarray(), x[2:].toarray())


def test_same_data_and_seed_give_the_same_version(tmp_path: Path) -> None:
    first = train_triage(documents=corpus(), out_dir=tmp_path, seed=1)
    second = train_triage(documents=corpus(), out_dir=tmp_path, seed=1)
    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_refuses_a_single_kind(tmp_path: Path) -> None:
    invoices = [d for d in corpus() if d.kind == "invoice"]
    with pytest.raises(TrainingError, match="two document kinds"):
        train_triage(documents=invoices, out_dir=tmp_path)
