"""Train the triage classifier and write a versioned ONNX artifact.

Artifact layout (one folder per version, never overwritten)::

    <out_dir>/<version>/model.onnx       kind classifier: indices int64[N, L], values float[N, L]
                                         (a row's non-zero features) -> probabilities[N, K]
    <out_dir>/<version>/risk.onnx        optional: same inputs -> probabilities[N, 2]
    <out_dir>/<version>/metadata.json    labels, feature version, data hash, CV metrics

Risk ("a human must intervene") is learnt only from documents that carry a label for
it (metadata `needs_review` = true/false, as reviewer-correction exports and sample
generators write). Kinds without such labels get the kind model's own uncertainty
at serving time; metadata says which is which, so nobody mistakes a proxy for a model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.compose
import onnx.numpy_helper
import scipy.sparse as sp
from numpy.typing import NDArray
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from agents.triage.errors import TrainingError
from agents.triage.features import FEATURE_VERSION, N_FEATURES, Featurizer
from schemas.document import Document, LabelledDocument

MIN_RISK_LABELS = 20
TRUE = {"true", "yes", "1", "y"}
FALSE = {"false", "no", "0", "n"}


def kind_label(document: Document) -> str:
    """`invoice`, or `claim:<type>`: what routing and extraction need to know first."""
    if document.kind == "claim":
        return f"claim:{document.claim_type or 'other'}"
    return document.kind


def risk_label(document: Document) -> int | None:
    flag = document.metadata.get("needs_review", "").strip().lower()
    if flag in TRUE:
        return 1
    if flag in FALSE:
        return 0
    return None


def data_hash(documents: Sequence[LabelledDocument]) -> str:
    """Lineage of a training set: ids, labels and text, order-independent."""
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.document_id):
        digest.update(json.dumps([doc.document_id, kind_label(doc), risk_label(doc), doc.text]).encode())
    return digest.hexdigest()


def _model(seed: int) -> LogisticRegression:
    # Hashed n-grams are many, sparse-ish and near-separable: a linear model is
    # enough and exports to a tiny ONNX graph. saga, because lbfgs spends seconds
    # per fit in its bookkeeping over ~50k coefficients.
    return LogisticRegression(C=4.0, solver="saga", max_iter=300, tol=1e-3, random_state=seed)


def _folds(y: NDArray[np.int64], seed: int) -> StratifiedKFold:
    smallest = int(np.bincount(y).min())
    if smallest < 2:
        raise TrainingError("every label needs at least two documents for cross-validation")
    return StratifiedKFold(n_splits=min(5, smallest), shuffle=True, random_state=seed)


def _kind_metrics(x: sp.csr_matrix, y: NDArray[np.int64], labels: list[str], seed: int) -> dict[str, Any]:
    folds = _folds(y, seed)
    predicted = cross_val_predict(_model(seed), x, y, cv=folds)
    recalls = recall_score(y, predicted, average=None, labels=range(len(labels)))
    return {
        "folds": folds.get_n_splits(),
        "accuracy": round(float(accuracy_score(y, predicted)), 4),
        "macro_f1": round(float(f1_score(y, predicted, average="macro")), 4),
        "recall_by_label": {lab: round(float(r), 4) for lab, r in zip(labels, recalls, strict=True)},
        "support": {lab: int(n) for lab, n in zip(labels, np.bincount(y), strict=True)},
    }


_ZERO = onnx.helper.make_tensor("zero", onnx.TensorProto.FLOAT, [1], [0.0])


def _scatter_prefix(like: onnx.ModelProto) -> onnx.ModelProto:
    """indices/values [N, L] → dense [N, F] inside the graph: the runtime then ships
    only a document's non-zero features, not a 16,384-wide vector."""
    h = onnx.helper
    nodes = [
        h.make_node("Shape", ["indices"], ["shape"]),
        h.make_node("Slice", ["shape", "zero", "one"], ["rows"]),
        h.make_node("Concat", ["rows", "width"], ["dims"], axis=0),
        h.make_node("ConstantOfShape", ["dims"], ["zeros"], value=_ZERO),
        # "add": padding entries (index 0, value 0.0) must not overwrite a real feature 0.
        h.make_node("ScatterElements", ["zeros", "indices", "values"], ["dense"], axis=1, reduction="add"),
    ]
    consts = [
        onnx.numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        onnx.numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        onnx.numpy_helper.from_array(np.array([N_FEATURES], dtype=np.int64), "width"),
    ]
    graph = h.make_graph(
        nodes,
        "scatter",
        [
            h.make_tensor_value_info("indices", onnx.TensorProto.INT64, [None, None]),
            h.make_tensor_value_info("values", onnx.TensorProto.FLOAT, [None, None]),
        ],
        [h.make_tensor_value_info("dense", onnx.TensorProto.FLOAT, [None, N_FEATURES])],
        initializer=consts,
    )
    return h.make_model(graph, opset_imports=like.opset_import, ir_version=like.ir_version)


def _export(model: LogisticRegression, path: Path) -> None:
    onx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, N_FEATURES]))],
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    merged = onnx.compose.merge_models(_scatter_prefix(onx), onx, io_map=[("dense", "features")])
    path.write_bytes(merged.SerializeToString())


def _train_risk(
    x: sp.csr_matrix, documents: Sequence[LabelledDocument], seed: int, out: Path
) -> dict[str, Any] | None:
    labelled = [(i, risk_label(d)) for i, d in enumerate(documents) if risk_label(d) is not None]
    ys = np.array([lab for _, lab in labelled], dtype=np.int64)
    if len(labelled) < MIN_RISK_LABELS or len(set(ys.tolist())) < 2:
        return None
    xs = x[[i for i, _ in labelled]]
    folds = _folds(ys, seed)
    scores = cross_val_predict(_model(seed), xs, ys, cv=folds, method="predict_proba")[:, 1]
    model = _model(seed).fit(xs, ys)
    _export(model, out / "risk.onnx")
    kinds = np.array([kind_label(documents[i]) for i, _ in labelled])
    return {
        "file": "risk.onnx",
        "kinds": sorted(set(kinds.tolist())),
        "labelled": len(labelled),
        "positive_rate": round(float(ys.mean()), 4),
        "cv_roc_auc": round(float(roc_auc_score(ys, scores)), 4),
        # Pooled AUC also rewards telling kinds apart when their base rates differ;
        # per kind is what ranks documents within one review queue.
        "cv_by_kind": {
            str(k): {
                "labelled": int((kinds == k).sum()),
                "positive": int(ys[kinds == k].sum()),
                "roc_auc": round(float(roc_auc_score(ys[kinds == k], scores[kinds == k])), 4)
                if len(set(ys[kinds == k].tolist())) == 2
                else None,
            }
            for k in sorted(set(kinds.tolist()))
        },
        "folds": folds.get_n_splits(),
    }


def train_triage(*, documents: Sequence[LabelledDocument], out_dir: Path, seed: int = 0) -> Path:
    """Train, cross-validate, export; returns the new artifact folder."""
    if len(documents) < 4:
        raise TrainingError(f"need at least 4 labelled documents, got {len(documents)}")
    labels = sorted({kind_label(d) for d in documents})
    if len(labels) < 2:
        raise TrainingError(f"need at least two document kinds, got {labels}")
    x = Featurizer().sparse([d.text for d in documents])
    y = np.array([labels.index(kind_label(d)) for d in documents], dtype=np.int64)
    metrics = _kind_metrics(x, y, labels, seed)
    model = _model(seed).fit(x, y)

    staging = out_dir / f".staging-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"
    staging.mkdir(parents=True)
    _export(model, staging / "model.onnx")
    risk = _train_risk(x, documents, seed, staging)
    version = "triage-" + hashlib.sha256((staging / "model.onnx").read_bytes()).hexdigest()[:12]
    metadata = {
        "version": version,
        "labels": labels,
        "feature_version": FEATURE_VERSION,
        "n_features": N_FEATURES,
        "model_file": "model.onnx",
        "estimator": "LogisticRegression(C=4, saga)",
        "training_data_hash": data_hash(documents),
        "documents": len(documents),
        "seed": seed,
        "trained_at": datetime.now(UTC).isoformat(),
        "cv_metrics": metrics,
        "risk": risk,
    }
    (staging / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    final = out_dir / version
    if final.exists():  # same model bytes: the existing artifact is this model
        for path in staging.iterdir():
            path.unlink()
        staging.rmdir()
        return final
    staging.rename(final)
    return final
