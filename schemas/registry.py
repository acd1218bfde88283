"""The model registry's language: a model version, a reference to one, their statuses.

Every model we serve has a name (`extractor`, `triage`, `claims_risk`) and numbered
versions 1, 2, … Each version carries what it is (`params`: flavour, feature version,
LLM model id, prompt and schema versions, server name — never a key), where it came
from (`lineage`: training data hash, export manifest, parent version, fine-tuning job
id, code version, the legacy folder it was imported from), how well it did (`metrics`
on the declared held-out split) and a `status`. Aliases name versions: `champion` is
always the active one; `challenger` is the latest put in shadow.

A reference is `NAME/N` (one version), `NAME@ALIAS` (what the alias points at now)
or `NAME` alone (the active version). LLM specs such as `llm:MODEL[@URL]` are not
registry references; the evaluation code parses those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

Status = Literal["candidate", "shadow", "active", "retired"]
STATUSES: tuple[str, ...] = get_args(Status)
CHAMPION, CHALLENGER = "champion", "challenger"

_NAME = r"[a-z][a-z0-9_]{0,63}"
_REF = re.compile(rf"^(?P<name>{_NAME})(?:/(?P<version>[0-9]{{1,9}})|@(?P<alias>[a-z][a-z0-9_-]{{0,63}}))?$")


class BadModelRef(ValueError):
    """Text that is not `NAME`, `NAME/N` or `NAME@ALIAS`."""


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def parse_ref(text: str) -> ModelRef:
    """`extractor/3`, `extractor@champion`, `extractor` (the active version)."""
    m = _REF.match(text.strip())
    if m is None:
        raise BadModelRef(
            f"{text!r} is not a model reference: use NAME/VERSION (extractor/3), "
            "NAME@ALIAS (extractor@champion) or NAME"
        )
    version = m.group("version")
    return ModelRef(name=m.group("name"), version=int(version) if version else None, alias=m.group("alias"))


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    status: Status
    params: dict[str, Any]
    lineage: dict[str, Any]
    metrics: dict[str, Any]
    artifact_uri: str | None
    artifact_sha256: str | None
    created_at: datetime
    aliases: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> str:
        """`name/version`: what a decision records."""
        return f"{self.name}/{self.version}"

    @property
    def flavour(self) -> str:
        """`local` (an artifact folder this code loads) or `llm` (a model id on a server)."""
        return str(self.params.get("flavour", "local"))


@dataclass(frozen=True)
class RegistryEvent:
    """One change to the registry, in order: the history rollback walks."""

    id: int
    name: str
    action: str
    version: int | None
    previous: int | None
    detail: dict[str, Any]
    at: datetime
