"""The ports `agents.registry.Registry` works through; `infra.registry_store` implements them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from schemas.registry import ModelVersion, RegistryEvent, Status


class RegistryStore(Protocol):
    """Rows of the registry (infra.registry_store.SqlRegistryStore)."""

    def names(self) -> list[str]: ...
    def versions(self, name: str) -> list[ModelVersion]: ...
    def alias(self, name: str, alias: str) -> int | None: ...
    def add_version(
        self,
        *,
        name: str,
        status: Status,
        params: dict[str, Any],
        lineage: dict[str, Any],
        metrics: dict[str, Any],
        artifact_uri: str | None,
        artifact_sha256: str | None,
        source_key: str | None = None,
    ) -> int: ...
    def update_metrics(self, name: str, version: int, metrics: dict[str, Any]) -> None: ...
    def move(
        self,
        *,
        name: str,
        statuses: dict[int, Status],
        aliases: dict[str, int | None],
        action: str,
        version: int | None,
        previous: int | None,
        detail: dict[str, Any],
    ) -> None: ...
    def events(self, name: str) -> list[RegistryEvent]: ...
    def generation(self) -> int: ...


class ArtifactStore(Protocol):
    """Artifact folders by uri (infra.registry_store.FileArtifactStore)."""

    def put(self, *, name: str, key: str, source: Path) -> tuple[str, str]: ...
    def fetch(self, *, uri: str, sha256: str | None, dest: Path) -> None: ...
