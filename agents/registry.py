"""The model registry: every version of every model we serve, and which one is active.

Public surface (other packages code against this):

    ModelVersion, ModelRef, parse_ref          (schemas/registry.py, re-exported here)
    Registry(store=, artifacts=, cache_dir=, servable=)  built by autoclerk.registry.open_registry(settings)
        register(*, name, params, lineage, metrics, artifact_dir=None, status="candidate") -> ModelVersion
        get(ref) -> ModelVersion                  raises UnknownModelRef
        names() / versions(name) / active(name) / history(name)
        set_status(ref, status) -> ModelVersion   candidate | shadow (alias challenger) | retired
        set_metrics(ref, metrics) -> ModelVersion merged into what is recorded
        local_artifacts(version) -> Path          fetched from the artifact store into a local cache
        unservable_reason(version) -> str | None
        promote(ref, *, gate=None, by="promote") -> Move      servability first, then the gate
        rollback(name) -> Move                    back to the version active before this one
        generation() -> int                       changes whenever anything moves: workers poll it

Statuses: `candidate` (registered), `shadow` (runs beside the active one, never decides),
`active` (exactly one per name; alias `champion`), `retired` (was active). Promotion and
rollback move the status, the `champion` alias and append an event in one transaction
(`RegistryStore.move`); rollback walks those events back, so it returns to the version
that was active before the current one, however many rollbacks came before.

Why not MLflow's model registry: measured in docs/architecture.md ("Model registry"):
mlflow-skinny 3.17 alone is 174 MB installed and 0.8 s to import in every worker and CLI
call, its SQL store migrates its own `alembic_version` table (which clashes with ours in
the same schema), and a worker watching it polls over its REST/SQL abstraction instead
of one indexed `max(id)`. The few things we need (numbered versions, aliases, tags as
JSON, an event log for rollback) are three tables (migration 0014).

Serving-safe: nothing here imports training code; the servability check is the cheap
metadata test of `agents.model_store.unusable_reason` (wired in by the caller).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.errors import BadStatus, GateRefused, NoPreviousVersion, UnknownModelRef, Unservable
from agents.registry_ports import ArtifactStore, RegistryStore
from schemas.registry import (
    CHALLENGER,
    CHAMPION,
    STATUSES,
    BadModelRef,
    ModelRef,
    ModelVersion,
    RegistryEvent,
    Status,
    parse_ref,
)

__all__ = [
    "ArtifactStore",
    "Gate",
    "GateResult",
    "ModelRef",
    "ModelVersion",
    "Move",
    "Registry",
    "RegistryStore",
    "parse_ref",
]


ServableCheck = Callable[[ModelVersion, Path | None], str | None]
"""(version, its local artifact folder or None for an LLM) → why this code cannot serve it."""


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reason: str
    candidate: dict[str, float]
    active: dict[str, float]


Gate = Callable[[ModelVersion, ModelVersion], GateResult]
"""(candidate, active) → the held-out comparison; run by `promote` when a version is active."""


@dataclass(frozen=True)
class Move:
    name: str
    previous: ModelVersion | None
    current: ModelVersion
    gate: GateResult | None = None


class Registry:
    def __init__(
        self, *, store: RegistryStore, artifacts: ArtifactStore, cache_dir: Path, servable: ServableCheck
    ) -> None:
        self._store = store
        self._artifacts = artifacts
        self._cache = cache_dir
        self._servable = servable

    # -- reading ---------------------------------------------------------------

    def names(self) -> list[str]:
        return self._store.names()

    def versions(self, name: str) -> list[ModelVersion]:
        return self._store.versions(name)

    def active(self, name: str) -> ModelVersion | None:
        return next((v for v in self._store.versions(name) if v.status == "active"), None)

    def get(self, ref: str | ModelRef) -> ModelVersion:
        try:
            r = parse_ref(ref) if isinstance(ref, str) else ref
        except BadModelRef as exc:
            raise UnknownModelRef(str(exc)) from exc
        versions = self._store.versions(r.name)
        if not versions:
            known = ", ".join(self._store.names()) or "none registered"
            raise UnknownModelRef(f"no model named {r.name!r} (known: {known})")
        number = r.version
        if r.alias is not None:
            number = self._store.alias(r.name, r.alias)
            if number is None:
                raise UnknownModelRef(f"{r}: {r.name} has no alias {r.alias!r}")
        if number is None:  # the bare name: the active version
            found = self.active(r.name)
            if found is None:
                raise UnknownModelRef(f"{r.name} has no active version")
            return found
        found = next((v for v in versions if v.version == number), None)
        if found is None:
            raise UnknownModelRef(f"{r}: {r.name} has versions 1…{versions[-1].version}")
        return found

    def history(self, name: str) -> list[int]:
        """Active versions, oldest first, as promotions and rollbacks left them: the
        last is the active one, the one before it is where a rollback goes."""
        return _active_stack(self._store.events(name))

    def generation(self) -> int:
        return self._store.generation()

    # -- writing ---------------------------------------------------------------

    def register(
        self,
        *,
        name: str,
        params: dict[str, Any],
        lineage: dict[str, Any],
        metrics: dict[str, Any],
        artifact_dir: Path | None = None,
        status: Status = "candidate",
        source_key: str | None = None,
    ) -> ModelVersion:
        """A new version (`candidate` by default; `active` only through `promote`).
        `source_key` makes it idempotent: registering the same source again (another
        worker importing the same folder at the same moment) returns the first version."""
        if status not in ("candidate", "shadow", "retired"):
            raise BadStatus(f"register as candidate, shadow or retired, not {status!r}; then promote")
        uri = sha = None
        if artifact_dir is not None:
            uri, sha = self._artifacts.put(name=name, key=uuid.uuid4().hex, source=artifact_dir)
        number = self._store.add_version(
            name=name,
            status=status,
            params=params,
            lineage=lineage,
            metrics=metrics,
            artifact_uri=uri,
            artifact_sha256=sha,
            source_key=source_key,
        )
        version = self.get(ModelRef(name=name, version=number))
        if status == "shadow":
            version = self.set_status(version.ref, "shadow")
        return version

    def set_status(self, ref: str | ModelRef, status: str) -> ModelVersion:
        version = self.get(ref)
        if status not in STATUSES:
            raise BadStatus(f"unknown status {status!r}: one of {', '.join(STATUSES)}")
        if status == "active" or version.status == "active":
            raise BadStatus(f"{version.ref}: activate with promote, deactivate with rollback")
        aliases: dict[str, int | None] = {}
        if status == "shadow":
            aliases[CHALLENGER] = version.version
        elif CHALLENGER in version.aliases:
            aliases[CHALLENGER] = None
        self._store.move(
            name=version.name,
            statuses={version.version: status},  # type: ignore[dict-item]
            aliases=aliases,
            action="status",
            version=version.version,
            previous=None,
            detail={"status": status},
        )
        return self.get(version.ref)

    def set_metrics(self, ref: str | ModelRef, metrics: dict[str, Any]) -> ModelVersion:
        version = self.get(ref)
        self._store.update_metrics(version.name, version.version, {**version.metrics, **metrics})
        return self.get(version.ref)

    def local_artifacts(self, version: ModelVersion) -> Path:
        """The version's artifact folder on this machine, fetched once into the cache.
        Cached by content hash, not number: a cache shared by registries on two
        databases (tests, staging) never serves one's version 3 for the other's."""
        if version.artifact_uri is None:
            raise Unservable(f"{version.ref} has no artifact (an {version.flavour} version)")
        dest = self._cache_path(version)
        if not dest.is_dir():
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._artifacts.fetch(uri=version.artifact_uri, sha256=version.artifact_sha256, dest=dest)
            except OSError:
                if not dest.is_dir():  # another process fetched it first: fine
                    raise
        return dest

    def unservable_reason(self, version: ModelVersion) -> str | None:
        path = None
        if version.artifact_uri is not None:
            try:
                path = self.local_artifacts(version)
            except Exception as exc:  # a missing or corrupt archive is a reason, not a crash
                return f"artifact not available: {exc}"
        return self._servable(version, path)

    def promote(self, ref: str | ModelRef, *, gate: Gate | None = None, by: str = "promote") -> Move:
        """Make `ref` active: refused when this code cannot serve it, or when `gate`
        finds it worse than the active version. Without a gate it is an operator's
        forced choice (`models use`); `by` says which in the event log."""
        version = self.get(ref)
        before = self.active(version.name)
        if before is not None and before.version == version.version:
            return Move(name=version.name, previous=before, current=version)
        reason = self.unservable_reason(version)
        if reason is not None:
            raise Unservable(f"{version.ref} cannot be served by this code: {reason}")
        verdict = gate(version, before) if gate is not None and before is not None else None
        if verdict is not None and not verdict.passed:
            raise GateRefused(
                f"{version.ref} not promoted over {before.ref if before else '-'}: {verdict.reason}"
            )
        statuses: dict[int, Status] = {version.version: "active"}
        if before is not None:
            statuses[before.version] = "retired"
        aliases: dict[str, int | None] = {CHAMPION: version.version}
        if CHALLENGER in version.aliases:
            aliases[CHALLENGER] = None
        detail: dict[str, Any] = {"by": by}
        if verdict is not None:
            detail["gate"] = {
                "reason": verdict.reason,
                "candidate": verdict.candidate,
                "active": verdict.active,
            }
        self._store.move(
            name=version.name,
            statuses=statuses,
            aliases=aliases,
            action="promote",
            version=version.version,
            previous=before.version if before else None,
            detail=detail,
        )
        return Move(name=version.name, previous=before, current=self.get(version.ref), gate=verdict)

    def rollback(self, name: str) -> Move:
        """Back to the version active before the current one; refused with the reason
        when there is none, or when this code can no longer serve it."""
        stack = self.history(name)
        before = self.active(name)
        if before is None:
            raise NoPreviousVersion(f"{name} has no active version to roll back from")
        if len(stack) < 2:
            raise NoPreviousVersion(
                f"{name}: {before.ref} is the first version ever active; nothing to roll back to"
            )
        target = self.get(ModelRef(name=name, version=stack[-2]))
        reason = self.unservable_reason(target)
        if reason is not None:
            raise Unservable(f"cannot roll back to {target.ref}: {reason}")
        self._store.move(
            name=name,
            statuses={before.version: "retired", target.version: "active"},
            aliases={CHAMPION: target.version},
            action="rollback",
            version=target.version,
            previous=before.version,
            detail={},
        )
        return Move(name=name, previous=before, current=self.get(target.ref))

    def _cache_path(self, version: ModelVersion) -> Path:
        key = (version.artifact_sha256 or "")[:24] or f"v{version.version}"
        return self._cache / version.name / key

    def forget_cache(self, version: ModelVersion) -> None:
        """Drop the local copy (a corrupt cache); the next use fetches again."""
        shutil.rmtree(self._cache_path(version), ignore_errors=True)


def _active_stack(events: list[RegistryEvent]) -> list[int]:
    stack: list[int] = []
    for e in events:
        if e.action == "promote" and e.version is not None:
            stack.append(e.version)
        elif e.action == "rollback" and stack:
            stack.pop()
    return stack
