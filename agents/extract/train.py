"""Train the local extractor and write its artifact (offline: scikit-learn fitting).

An artifact is a directory named by its version, holding `model.joblib` (one
`FieldModel` per kind and field) and `metadata.json` (version, training-data hash,
document counts, out-of-fold metrics). The version is derived from the feature
version and the training data, so retraining on the same data gives the same name.
`agents.extract.local.LocalExtractor.load` reads it back; serving never imports this.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import joblib
import sklearn
from threadpoolctl import ThreadpoolController

from agents.extract.errors import TrainingDataError
from agents.extract.features import Layout
from agents.extract.fit import train_field
from agents.extract.local import FEATURE_VERSION
from agents.extract.normalize import Shape, shape_of
from agents.extract.ranker import FieldModel, Prepared, prepare
from schemas.document import LabelledDocument

MIN_LABELLED = 5


def _fields_by_kind(documents: Sequence[LabelledDocument]) -> dict[str, list[str]]:
    present: dict[str, Counter[str]] = {}
    for doc in documents:
        counts = present.setdefault(doc.kind, Counter())
        counts.update(name for name, value in doc.gold.items() if value is not None)
    return {
        kind: sorted(name for name, n in counts.items() if n >= MIN_LABELLED)
        for kind, counts in present.items()
    }


def _data_hash(documents: Sequence[LabelledDocument]) -> str:
    h = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.document_id):
        h.update(doc.model_dump_json(exclude={"split"}).encode())
    return h.hexdigest()


def train_local_extractor(*, documents: Sequence[LabelledDocument], out_dir: Path, seed: int = 0) -> Path:
    """Train per-field rankers for every kind in `documents`; returns the artifact dir.

    Pass only training documents: evaluation must use documents left out here.
    """
    by_kind = _fields_by_kind(documents)
    if not any(by_kind.values()):
        raise TrainingDataError(f"no field has {MIN_LABELLED} labelled values to learn from")
    started = time.perf_counter()
    models: dict[str, dict[str, FieldModel]] = {}
    # One OpenMP thread: the data are small, and spinning worker threads on a shared
    # two-core machine made fitting slower by two orders of magnitude.
    with ThreadpoolController().limit(limits=1, user_api="openmp"):
        for kind, names in by_kind.items():
            docs = [d for d in documents if d.kind == kind]
            layouts = [Layout(d) for d in docs]
            shared: dict[Shape, list[Prepared]] = {}
            models[kind] = {}
            for name in names:
                shape = shape_of(name)
                if shape not in shared:
                    shared[shape] = [prepare(shape, d, lay) for d, lay in zip(docs, layouts, strict=True)]
                # A field missing from a document's gold was not checked (a reviewed
                # document keeps only what the reviewer vouched for): it teaches nothing
                # about that field, whereas a None there means "absent".
                keep = [i for i, d in enumerate(docs) if name in d.gold]
                models[kind][name] = train_field(
                    name=name,
                    shape=shape,
                    documents=[docs[i] for i in keep],
                    seed=seed,
                    prepared=[shared[shape][i] for i in keep],
                    layouts=[layouts[i] for i in keep],
                )
    data_hash = _data_hash(documents)
    version = f"local-v{FEATURE_VERSION}-{data_hash[:12]}-s{seed}"
    path = out_dir / version
    path.mkdir(parents=True, exist_ok=True)
    joblib.dump(models, path / "model.joblib", compress=3)
    metadata = {
        "version": version,
        "feature_version": FEATURE_VERSION,
        "training_data_sha256": data_hash,
        "documents": dict(Counter(d.kind for d in documents)),
        "seed": seed,
        "sklearn": sklearn.__version__,
        "train_seconds": round(time.perf_counter() - started, 2),
        "fields": {kind: {n: m.metrics for n, m in fm.items()} for kind, fm in models.items()},
    }
    (path / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True))
    return path
