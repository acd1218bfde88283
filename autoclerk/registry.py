"""Opening the model registry from `Settings`: the one place its adapters are built.

`open_registry(settings)` migrates the database, wires the SQL store and the artifact
store, syncs the folder layout (`agents.registry_legacy.sync_legacy`: the first open
imports every trained folder, later ones only what training added since) and, when
`llm.model` is set, registers that LLM extractor as a version (params: model, base model,
prompt version, schema version, server name; never the key). Such a version is made
active when it is first seen, as configuring it has always meant serving it; after that
promotions and rollbacks decide, like for any other version.

Close it with `registry.close()` (disposes the engine), or use `registry_session`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from agents.model_store import unusable_reason
from agents.registry import Move, Registry
from agents.registry_legacy import mirror_current, sync_legacy
from infra.db.engine import make_engine, migrate
from infra.registry_store import FileArtifactStore, SqlRegistryStore
from infra.settings import LlmSettings, Settings
from schemas.registry import ModelVersion

EXTRACTOR = "extractor"


def server_name(base_url: str | None) -> str | None:
    """`host[:port]/path` of an OpenAI-compatible URL: no scheme, user, password or query,
    so a key pasted into the URL is never recorded."""
    if not base_url:
        return None
    u = urlparse(base_url)
    host = u.hostname or ""
    port = f":{u.port}" if u.port else ""
    return f"{host}{port}{u.path.rstrip('/')}" or None


def llm_params(llm: LlmSettings, *, model: str | None = None) -> dict[str, Any]:
    """What identifies an LLM extractor version; the prompt/schema hash is the one its
    answers are cached under (`LlmExtractor.version`)."""
    from agents.extract.llm_schema import response_schema
    from agents.extract.prompts import prompt_version

    name = model or llm.model or ""
    schemas = {kind: response_schema(kind, reasoning=True) for kind in ("invoice", "claim")}
    return {
        "flavour": "llm",
        "model": name,
        "base_model": name.split(":")[1] if name.startswith("ft:") and name.count(":") >= 2 else name,
        "prompt_version": prompt_version(dict(schemas), reasoning=True),
        "schema_version": hashlib.sha256(json.dumps(schemas, sort_keys=True).encode()).hexdigest()[:10],
        "server": server_name(llm.base_url),
    }


def servable_by(settings: Settings) -> Any:
    """The check `Registry` runs before a version becomes active."""
    configured = server_name(settings.llm.base_url)

    def check(version: ModelVersion, path: Path | None) -> str | None:
        if version.flavour == "llm":
            if not version.params.get("model"):
                return "an LLM version without a model id"
            if configured is None:
                return "no LLM server configured here (llm.base_url)"
            if version.params.get("server") not in (None, configured):
                return f"made for server {version.params.get('server')}, this worker talks to {configured}"
            return None
        if path is None:
            return "no artifact"
        return unusable_reason(version.name, path)

    return check


class SettingsRegistry(Registry):
    """A `Registry` that also keeps the folder layout's `CURRENT` in step and owns its engine."""

    def __init__(self, settings: Settings) -> None:
        migrate(settings.db.url)
        self._engine = make_engine(settings.db.url)
        self.store = SqlRegistryStore(engine=self._engine)
        self._models_dir = settings.models.dir
        super().__init__(
            store=self.store,
            artifacts=FileArtifactStore(root=settings.models.artifacts),
            cache_dir=settings.models.cache,
            servable=servable_by(settings),
        )

    def promote(self, ref: Any, *, gate: Any = None, by: str = "promote") -> Move:
        move = super().promote(ref, gate=gate, by=by)
        if by != "legacy":
            mirror_current(self.store, self._models_dir, move.current)
        return move

    def rollback(self, name: str) -> Move:
        move = super().rollback(name)
        mirror_current(self.store, self._models_dir, move.current)
        return move

    def close(self) -> None:
        self._engine.dispose()


def ensure_llm_version(registry: Registry, llm: LlmSettings) -> ModelVersion:
    """The registered version of the configured LLM extractor, registered (and made
    active) the first time these params are seen."""
    params = llm_params(llm)
    for v in registry.versions(EXTRACTOR):
        if v.params == params:
            return v
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:32]
    version = registry.register(
        source_key=f"llm:{key}",
        name=EXTRACTOR,
        params=params,
        lineage={"source": "settings", "parent": None, "finetune_job": None},
        metrics={},
    )
    return registry.promote(version.ref, by="settings").current


def open_registry(settings: Settings) -> SettingsRegistry:
    registry = SettingsRegistry(settings)
    try:
        sync_legacy(registry, registry.store, settings.models.dir)
        if settings.llm.enabled:
            ensure_llm_version(registry, settings.llm)
    except BaseException:
        registry.close()
        raise
    return registry


@contextmanager
def registry_session(settings: Settings) -> Iterator[SettingsRegistry]:
    registry = open_registry(settings)
    try:
        yield registry
    finally:
        registry.close()
