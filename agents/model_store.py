"""The model registry: where trained artifacts live and which version is served.

The only module that knows the layout under `models.dir`:

    <models.dir>/<name>/<version>/      one folder per trained version (metadata.json …)
    <models.dir>/<name>/CURRENT         the version served, one line, swapped atomically
    <models.dir>/routing/thresholds.json  fitted routing thresholds
    <models.dir>/routing/oof/           cached out-of-fold predictions (`routing fit --cv`)

Serving reads the pointers (`current`) and vets an artifact cheaply (`unusable_reason`:
its metadata against this code, no session built, nothing unpickled); training writes
versions and moves the pointers (`promote`, `train_and_promote`). Training never deletes
a version, so rolling back is pointing `CURRENT` at an older folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.document import LabelledDocument

EXTRACTOR = "extractor"
TRIAGE = "triage"
CLAIMS_RISK = "claims_risk"
SERVED = (EXTRACTOR, TRIAGE)
"""What a worker needs before it starts; claims_risk is used only where an operator trained it."""

Trainer = Callable[..., Path]
"""`trainer(documents=…, out_dir=…) -> artifact folder`: `train_local_extractor`, `train_triage`."""


def current(models_dir: Path, name: str) -> Path | None:
    """The folder `CURRENT` points at; None when there is no pointer or no such folder."""
    pointer = models_dir / name / "CURRENT"
    if not pointer.is_file():
        return None
    path = models_dir / name / pointer.read_text().strip()
    return path if path.is_dir() else None


def promote(models_dir: Path, name: str, artifact: Path) -> None:
    pointer = models_dir / name / "CURRENT"
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(artifact.name + "\n")
    tmp.replace(pointer)  # atomic: a reader sees the old or the new version, never half


def train_and_promote(
    *, models_dir: Path, name: str, trainer: Trainer, documents: Sequence[LabelledDocument]
) -> Path:
    out = models_dir / name
    out.mkdir(parents=True, exist_ok=True)
    artifact = trainer(documents=documents, out_dir=out)
    promote(models_dir, name, artifact)
    return artifact


def thresholds_path(models_dir: Path) -> Path:
    """Where `routing fit` writes the thresholds the workers read at start."""
    return models_dir / "routing" / "thresholds.json"


def oof_dir(models_dir: Path) -> Path:
    """Where cross-fitted out-of-fold predictions are kept for reuse."""
    return models_dir / "routing" / "oof"


def unusable_reason(name: str, path: Path) -> str | None:
    """Why this code could not serve the artifact (None: it can), from its metadata: the
    check each loader applies first. Cheap: no ONNX session is built, nothing unpickled."""
    # imported here: reading a pointer should not cost onnxruntime's start-up
    if name == EXTRACTOR:
        from agents.extract.errors import ModelArtifactError
        from agents.extract.local import read_metadata as extractor_metadata

        try:
            extractor_metadata(path)
        except ModelArtifactError as exc:
            return str(exc)
        return None
    if name == TRIAGE:
        from agents.triage.errors import ModelUnavailable
        from agents.triage.runtime import read_metadata as triage_metadata

        try:
            meta = triage_metadata(path)
        except ModelUnavailable as exc:
            return str(exc)
        files = [meta.get("model_file"), (meta.get("risk") or {}).get("file")]
        missing = [f for f in files if f is not None and not (path / str(f)).is_file()]
        return f"{path} lacks {', '.join(map(str, missing))}" if missing else None
    return None if (path / "metadata.json").is_file() else f"{path} has no metadata.json"


def missing_or_unusable(models_dir: Path, names: Sequence[str] = SERVED) -> dict[str, str]:
    """Each model among `names` that has no usable CURRENT version, with the reason."""
    problems = {}
    for name in names:
        path = current(models_dir, name)
        reason = "no CURRENT version" if path is None else unusable_reason(name, path)
        if reason is not None:
            problems[name] = reason
    return problems


@dataclass(frozen=True)
class Version:
    version: str
    current: bool
    trained_at: str
    summary: str


def _summary(meta: dict[str, Any]) -> str:
    """The one or two figures that tell versions apart, from whatever the trainer recorded."""
    parts = []
    docs = meta.get("documents")
    if isinstance(docs, dict):
        parts.append("docs " + ", ".join(f"{k} {v}" for k, v in sorted(docs.items())))
    elif docs is not None:
        parts.append(f"docs {docs}")
    cv = meta.get("cv_metrics") or {}
    if "accuracy" in cv:
        parts.append(f"kind acc {cv['accuracy']}")
    if "roc_auc" in cv:
        parts.append(f"ROC-AUC {cv['roc_auc']}")
    risk = meta.get("risk") or {}
    if risk.get("cv_roc_auc") is not None:
        parts.append(f"risk AUC {risk['cv_roc_auc']} ({', '.join(risk.get('kinds', []))})")
    return "; ".join(parts)


def names(models_dir: Path) -> list[str]:
    """Every model with a CURRENT pointer."""
    return sorted(p.name for p in models_dir.glob("*") if (p / "CURRENT").is_file())


def versions(models_dir: Path, name: str) -> list[Version]:
    """Every version folder of a model, oldest first, with its metadata summary."""
    folder, live = models_dir / name, current(models_dir, name)
    rows = []
    for path in (p for p in folder.glob("*") if (p / "metadata.json").is_file()):
        meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
        created = meta.get("trained_at") or datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
        rows.append(
            Version(version=path.name, current=path == live, trained_at=created[:19], summary=_summary(meta))
        )
    return sorted(rows, key=lambda r: r.trained_at)
