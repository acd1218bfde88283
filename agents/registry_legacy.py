"""The bridge from the folder layout (`agents.model_store`) to the registry.

Training still writes `<models.dir>/<name>/<version>/` folders and moves `CURRENT`
(`autoclerk train …`, `ensure_models`); `sync_legacy` brings those into the registry
every time one is opened, without retraining anything:

- a version folder not yet registered is registered (as `candidate`), its artifact
  archived, its metadata's data hash, feature version and CV metrics kept as lineage
  and metrics; the folder name is its `lineage.legacy_folder`, which makes it idempotent;
- when `CURRENT` names another folder than it did at the last sync, training moved it
  through its own gate, so the registry promotes that version (`by: legacy`).

And the other way: when the registry activates a version that came from a folder still
on this machine, `mirror_current` points `CURRENT` at it, so training's comparisons
(`feedback.retrain`) start from what is served. Both directions record the pointer as
a `legacy_pointer` event, so neither mistakes the other's move for a new one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.model_store import CLAIMS_RISK, EXTRACTOR, TRIAGE, current, promote
from agents.registry import Registry, RegistryStore
from schemas.registry import ModelVersion

KINDS: Sequence[str] = (EXTRACTOR, TRIAGE, CLAIMS_RISK)
LEGACY_POINTER = "legacy_pointer"


def _folders(models_dir: Path, name: str) -> list[tuple[str, Path, dict[str, Any]]]:
    rows = []
    for path in (p for p in (models_dir / name).glob("*") if (p / "metadata.json").is_file()):
        try:
            meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
        except ValueError:
            continue  # a half-written folder: the next sync sees it whole
        rows.append((str(meta.get("trained_at") or path.stat().st_mtime), path, meta))
    return sorted(rows, key=lambda r: r[0])


def _params(name: str, meta: dict[str, Any]) -> dict[str, Any]:
    params = {
        "flavour": "local",
        "feature_version": meta.get("feature_version"),
        "artifact_version": meta.get("version"),
    }
    if name == TRIAGE:
        params["risk_kinds"] = (meta.get("risk") or {}).get("kinds", [])
    return params


def _lineage(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    data = meta.get("training_data_sha256") or meta.get("training_data_hash") or meta.get("data_sha256")
    return {
        "legacy_folder": path.name,
        "training_data_hash": data,
        "code_version": meta.get("feature_version"),
        "documents": meta.get("documents"),
        "parent": None,
        "finetune_job": None,
    }


def _metrics(meta: dict[str, Any]) -> dict[str, Any]:
    cv = meta.get("cv_metrics") or {}
    return {f"cv_{k}": v for k, v in cv.items() if isinstance(v, int | float)}


def _last_pointer(store: RegistryStore, name: str) -> str | None:
    events = [e for e in store.events(name) if e.action == LEGACY_POINTER]
    return str(events[-1].detail.get("folder")) if events else None


def sync_legacy(registry: Registry, store: RegistryStore, models_dir: Path) -> list[ModelVersion]:
    """Register new folders and follow a moved `CURRENT`; returns what it registered."""
    added = []
    for name in KINDS:
        known = {v.lineage.get("legacy_folder"): v for v in registry.versions(name)}
        for _, path, meta in _folders(models_dir, name):
            if path.name in known:
                continue
            version = registry.register(
                source_key=f"folder:{path.name}",
                name=name,
                params=_params(name, meta),
                lineage=_lineage(path, meta),
                metrics=_metrics(meta),
                artifact_dir=path,
            )
            known[path.name] = version
            added.append(version)
        live = current(models_dir, name)
        if live is None or live.name == _last_pointer(store, name) or live.name not in known:
            continue
        target = known[live.name]
        if target.status != "active" and registry.unservable_reason(target) is None:
            registry.promote(target.ref, by="legacy")
        _record_pointer(store, name, live.name, target.version)
    return added


def _record_pointer(store: RegistryStore, name: str, folder: str, version: int) -> None:
    store.move(
        name=name,
        statuses={},
        aliases={},
        action=LEGACY_POINTER,
        version=version,
        previous=None,
        detail={"folder": folder},
    )


def mirror_current(store: RegistryStore, models_dir: Path, version: ModelVersion) -> None:
    """Point `CURRENT` at the version's folder when it is on this machine."""
    folder = version.lineage.get("legacy_folder")
    path = models_dir / version.name / str(folder) if folder else None
    if path is None or not (path / "metadata.json").is_file():
        return
    promote(models_dir, version.name, path)
    _record_pointer(store, version.name, path.name, version.version)
