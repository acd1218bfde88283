"""The model registry on SQLite and PostgreSQL (the same tests, parametrized): refs,
statuses and aliases, promotion through the servability check and the gate, rollback
history, artifacts fetched into another machine's cache, and the import of the folder
layout (`CURRENT`) without retraining."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.errors import BadStatus, GateRefused, NoPreviousVersion, UnknownModelRef, Unservable
from agents.model_store import current
from agents.model_store import promote as move_current
from agents.registry import Registry
from agents.registry_legacy import mirror_current, sync_legacy
from autoclerk.registry import servable_by
from feedback.registry_gate import recorded_metric_gate
from infra.db.engine import make_engine, migrate
from infra.registry_store import FileArtifactStore, SqlRegistryStore
from infra.settings import Settings


def _copy_version(models: Path, name: str, folder: str, **meta: object) -> Path:
    """A second trained version without training: the live folder, renamed and re-labelled."""
    live = current(models, name)
    assert live is not None
    copy = models / name / folder
    shutil.copytree(live, copy)
    data = json.loads((copy / "metadata.json").read_text())
    (copy / "metadata.json").write_text(json.dumps({**data, "version": folder, **meta}))
    return copy


@pytest.fixture
def models(trained_models: Path, tmp_path: Path) -> Path:
    path = tmp_path / "models"
    shutil.copytree(trained_models, path, ignore=shutil.ignore_patterns("registry"))
    return path


@pytest.fixture
def opened(
    db: tuple[str, str | None], models: Path, tmp_path: Path
) -> Iterator[tuple[Registry, SqlRegistryStore]]:
    url, schema = db
    migrate(url, schema=schema)
    engine = make_engine(url, schema=schema)
    store = SqlRegistryStore(engine=engine)
    settings = Settings(models={"dir": models})
    registry = Registry(
        store=store,
        artifacts=FileArtifactStore(root=tmp_path / "shared-artifacts"),
        cache_dir=tmp_path / "machine-a",
        servable=servable_by(settings),
    )
    try:
        yield registry, store
    finally:
        engine.dispose()


def test_import_refs_promote_rollback(
    opened: tuple[Registry, SqlRegistryStore], models: Path, tmp_path: Path
) -> None:
    registry, store = opened
    _copy_version(models, "extractor", "local-copy")
    added = sync_legacy(registry, store, models)
    assert sorted(v.ref for v in added) == ["extractor/1", "extractor/2", "triage/1"]
    assert sync_legacy(registry, store, models) == []  # idempotent: the second open imports nothing
    # a second worker importing the same folder in the same instant gets the same version
    live_folder = registry.get("extractor/1").lineage["legacy_folder"]
    again = registry.register(
        name="extractor", params={}, lineage={}, metrics={}, source_key=f"folder:{live_folder}"
    )
    assert again.ref == "extractor/1" and len(registry.versions("extractor")) == 2

    live = current(models, "extractor")
    assert live is not None
    first = registry.get("extractor@champion")
    assert first.status == "active" and first.lineage["legacy_folder"] == live.name
    assert registry.get("extractor") == first and registry.get("extractor/1") == first
    assert first.lineage["training_data_hash"] and first.params["feature_version"]
    assert registry.get("triage").metrics["cv_accuracy"] > 0

    for bad in ("extractor/9", "extractor@challenger", "nosuch/1", "Extractor!", "extractor/x"):
        with pytest.raises(UnknownModelRef):
            registry.get(bad)
    with pytest.raises(NoPreviousVersion, match="first version ever active"):
        registry.rollback("extractor")
    with pytest.raises(BadStatus):
        registry.set_status("extractor/2", "active")

    shadow = registry.set_status("extractor/2", "shadow")
    assert registry.get("extractor@challenger") == shadow and shadow.aliases == ("challenger",)
    moved = registry.promote("extractor@challenger")
    assert moved.previous == first and moved.current.status == "active"
    assert moved.current.aliases == ("champion",)
    assert registry.get("extractor/1").status == "retired"
    assert registry.history("extractor") == [1, 2]

    back = registry.rollback("extractor")
    assert back.current.ref == "extractor/1" and registry.get("extractor/2").status == "retired"
    assert registry.get("extractor@champion").ref == "extractor/1"
    with pytest.raises(NoPreviousVersion):
        registry.rollback("extractor")

    # another machine: same rows, its own empty cache, artifacts fetched from the shared root
    other = Registry(
        store=store,
        artifacts=FileArtifactStore(root=tmp_path / "shared-artifacts"),
        cache_dir=tmp_path / "machine-b",
        servable=servable_by(Settings(models={"dir": models})),
    )
    fetched = other.local_artifacts(other.get("extractor/2"))
    assert fetched.is_relative_to(tmp_path / "machine-b")
    assert json.loads((fetched / "metadata.json").read_text())["version"] == "local-copy"


def test_unservable_and_worse_versions_are_refused(
    opened: tuple[Registry, SqlRegistryStore], models: Path
) -> None:
    registry, store = opened
    _copy_version(models, "extractor", "local-stale", feature_version="0")
    live_triage = current(models, "triage")
    assert live_triage is not None
    accuracy = json.loads((live_triage / "metadata.json").read_text())["cv_metrics"]["accuracy"]
    _copy_version(models, "triage", "triage-worse", cv_metrics={"accuracy": accuracy - 0.2})
    sync_legacy(registry, store, models)
    generation = registry.generation()

    with pytest.raises(Unservable, match="feature version"):
        registry.promote("extractor/2")
    with pytest.raises(GateRefused) as refused:
        registry.promote("triage/2", gate=recorded_metric_gate("cv_accuracy"))
    assert f"{accuracy - 0.2:.3f} vs {accuracy:.3f}" in str(refused.value)  # both scores
    assert registry.get("extractor").version == 1 and registry.get("triage").version == 1
    assert registry.generation() == generation  # nothing half-moved

    # a corrupt archive is a reason, not a crash
    triage2 = registry.get("triage/2")
    assert triage2.artifact_uri is not None
    Path(triage2.artifact_uri.removeprefix("file://")).write_bytes(b"not a tarball")
    registry.forget_cache(triage2)
    assert "SHA-256" in (registry.unservable_reason(triage2) or "")


def test_legacy_current_follows_training_and_promotion_moves_current(
    opened: tuple[Registry, SqlRegistryStore], models: Path
) -> None:
    registry, store = opened
    copy = _copy_version(models, "extractor", "local-retrained")
    sync_legacy(registry, store, models)
    assert registry.get("extractor").ref == "extractor/1"
    move_current(models, "extractor", copy)  # what `autoclerk train extractor` does after its gate
    sync_legacy(registry, store, models)
    assert registry.get("extractor").lineage["legacy_folder"] == "local-retrained"
    # the registry moves CURRENT back too (SettingsRegistry does this on every move),
    # so training compares against what is served
    mirror_current(store, models, registry.rollback("extractor").current)
    assert current(models, "extractor") != copy
    sync_legacy(registry, store, models)  # its own move is not mistaken for training's
    assert registry.get("extractor").ref == "extractor/1"
