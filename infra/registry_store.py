"""The model registry's adapters: its rows in our database, its artifacts under a root.

`SqlRegistryStore` implements `agents.registry.RegistryStore` on the tables of
migration 0014 (`model_versions`, `model_aliases`, `model_events`), the same on SQLite
and PostgreSQL. A pointer move (statuses, aliases and the event that records it) is one
transaction, so a reader sees the old active version or the new one, never both.
`generation()` is `max(model_events.id)`: one index lookup, what workers poll.

`FileArtifactStore` keeps each version's artifact folder as one `.tar.gz` under a
root (`models.artifact_root`), named by model and version and checked by SHA-256 when
fetched. A root on shared storage serves workers on several machines: each unpacks the
archive into its own cache (`agents.registry.Registry.local_artifacts`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from infra.db.tables import ModelAliasRow, ModelEventRow, ModelVersionRow, utcnow
from schemas.registry import ModelVersion, RegistryEvent, Status

_V = ModelVersionRow.__table__  # type: ignore[attr-defined]
_A = ModelAliasRow.__table__  # type: ignore[attr-defined]
_E = ModelEventRow.__table__  # type: ignore[attr-defined]


class SqlRegistryStore:
    def __init__(self, *, engine: Engine) -> None:
        self._engine = engine

    def names(self) -> list[str]:
        with self._engine.connect() as c:
            return sorted(c.execute(select(_V.c.name).distinct()).scalars())

    def versions(self, name: str) -> list[ModelVersion]:
        with self._engine.connect() as c:
            aliases: dict[int, list[str]] = {}
            for a in c.execute(select(_A).where(_A.c.name == name).order_by(_A.c.alias)):
                aliases.setdefault(a.version, []).append(a.alias)
            rows = c.execute(select(_V).where(_V.c.name == name).order_by(_V.c.version))
            return [_version(r._mapping, tuple(aliases.get(r.version, ()))) for r in rows]

    def alias(self, name: str, alias: str) -> int | None:
        with self._engine.connect() as c:
            q = select(_A.c.version).where(_A.c.name == name, _A.c.alias == alias)
            value: int | None = c.execute(q).scalar_one_or_none()
            return value

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
    ) -> int:
        """The next number for `name`; two writers racing for it: the loser takes the next.
        With a `source_key` already registered, that version's number (idempotent)."""
        for _ in range(5):
            if source_key is not None and (found := self._by_source(name, source_key)) is not None:
                return found
            try:
                with self._engine.begin() as c:
                    number = (
                        c.execute(select(func.max(_V.c.version)).where(_V.c.name == name)).scalar() or 0
                    ) + 1
                    c.execute(
                        insert(_V).values(
                            name=name,
                            version=number,
                            status=status,
                            params=params,
                            lineage=lineage,
                            metrics=metrics,
                            artifact_uri=artifact_uri,
                            artifact_sha256=artifact_sha256,
                            source_key=source_key,
                            created_at=utcnow(),
                        )
                    )
                    c.execute(
                        insert(_E).values(
                            name=name, action="register", version=number, detail={}, at=utcnow()
                        )
                    )
                return int(number)
            except IntegrityError:
                continue
        raise RuntimeError(f"could not allocate a version number for {name!r}")

    def _by_source(self, name: str, source_key: str) -> int | None:
        with self._engine.connect() as c:
            q = select(_V.c.version).where(_V.c.name == name, _V.c.source_key == source_key)
            found: int | None = c.execute(q).scalar_one_or_none()
            return found

    def update_metrics(self, name: str, version: int, metrics: dict[str, Any]) -> None:
        with self._engine.begin() as c:
            c.execute(update(_V).where(_V.c.name == name, _V.c.version == version).values(metrics=metrics))

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
    ) -> None:
        """Statuses, aliases (None removes one) and the event, in one transaction."""
        with self._engine.begin() as c:
            for number, status in statuses.items():
                c.execute(update(_V).where(_V.c.name == name, _V.c.version == number).values(status=status))
            for alias, target in aliases.items():
                c.execute(delete(_A).where(_A.c.name == name, _A.c.alias == alias))
                if target is not None:
                    c.execute(insert(_A).values(name=name, alias=alias, version=target))
            c.execute(
                insert(_E).values(
                    name=name, action=action, version=version, previous=previous, detail=detail, at=utcnow()
                )
            )

    def events(self, name: str) -> list[RegistryEvent]:
        with self._engine.connect() as c:
            rows = c.execute(select(_E).where(_E.c.name == name).order_by(_E.c.id))
            return [RegistryEvent(**dict(r._mapping)) for r in rows]

    def generation(self) -> int:
        with self._engine.connect() as c:
            return int(c.execute(select(func.max(_E.c.id))).scalar() or 0)


def _version(row: Any, aliases: Sequence[str]) -> ModelVersion:
    return ModelVersion(
        name=row["name"],
        version=row["version"],
        status=row["status"],
        params=dict(row["params"] or {}),
        lineage=dict(row["lineage"] or {}),
        metrics=dict(row["metrics"] or {}),
        artifact_uri=row["artifact_uri"],
        artifact_sha256=row["artifact_sha256"],
        created_at=row["created_at"],
        aliases=tuple(aliases),
    )


class ArtifactCorrupt(RuntimeError):
    """A fetched archive whose SHA-256 is not the one registered."""


class FileArtifactStore:
    def __init__(self, *, root: Path) -> None:
        self._root = root

    def put(self, *, name: str, key: str, source: Path) -> tuple[str, str]:
        """Pack `source` as `<root>/<name>/<key>.tar.gz`; (uri, sha256)."""
        target = self._root / name / f"{key}.tar.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(fd)
        with tarfile.open(tmp, "w:gz") as tar:
            for path in sorted(source.iterdir()):
                tar.add(path, arcname=path.name)
        os.replace(tmp, target)  # a reader never sees half an archive
        return target.resolve().as_uri(), _sha256(target)

    def fetch(self, *, uri: str, sha256: str | None, dest: Path) -> None:
        """Unpack the archive at `uri` into `dest` (created; must not exist)."""
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise ValueError(f"unsupported artifact uri {uri!r}: only file:// is served")
        source = Path(unquote(parsed.path))
        if sha256 is not None and _sha256(source) != sha256:
            raise ArtifactCorrupt(f"{uri}: SHA-256 differs from the registered one")
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
        try:
            with tarfile.open(source, "r:gz") as tar:
                tar.extractall(tmp, filter="data")  # refuses absolute paths and links out
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
