"""A parsed document: what every workflow stage reads.

Text arrives either as plain text (split into lines) or from a PDF or OCR output
(lines with boxes). Extractors and the classifier see only this shape, so a new
input format needs only a new parser.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from schemas.fields import ClaimType, DocumentKind


class Line(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    page: int = 0
    bbox: tuple[float, float, float, float] | None = None


class PageSize(BaseModel):
    model_config = ConfigDict(frozen=True)

    width: float
    height: float


class Document(BaseModel):
    document_id: str
    kind: DocumentKind
    claim_type: ClaimType | None = None
    lines: list[Line]
    pages: list[PageSize] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @classmethod
    def from_text(
        cls,
        *,
        document_id: str,
        kind: DocumentKind,
        text: str,
        claim_type: ClaimType | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Document:
        lines = [Line(text=t) for t in text.splitlines() if t.strip()]
        return cls(
            document_id=document_id,
            kind=kind,
            claim_type=claim_type,
            lines=lines,
            metadata=metadata or {},
        )


def content_hash(data: bytes) -> str:
    """Stable identity of document content, for caches and duplicate checks."""
    return hashlib.sha256(data).hexdigest()


class Provenance(BaseModel):
    """Where a label came from when a person gave it: kept so a bad batch of
    corrections can be traced to its reviewer, time and the model it corrected."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="e.g. 'review': a reviewer completed a task on this document")
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    task_id: str | None = None
    outcome: str | None = Field(default=None, description="the reviewer's decision: approve/reject")
    model_version: str | None = Field(default=None, description="the extractor whose output was reviewed")
    corrected: list[str] = Field(default_factory=list, description="fields the reviewer changed")
    reject_kind: str | None = Field(
        default=None, description="on a reject: business (fields gold) or fields (only corrections gold)"
    )


class LabelledDocument(Document):
    """A document with its gold field values: one line of our labelled JSONL.

    `gold` maps field name to the normalised expected value (None = absent).
    SROIE's own format is converted to this by `feedback.datasets`; reviewed
    documents exported by `feedback.export` carry their `provenance`.
    """

    gold: dict[str, str | None] = Field(default_factory=dict)
    split: str | None = Field(default=None, description="declared split, e.g. train/test")
    provenance: Provenance | None = Field(
        default=None, description="who labelled it and when; None for curated datasets"
    )

    @model_serializer(mode="wrap")
    def _omit_absent_provenance(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Curated documents serialise exactly as before provenance existed, so the
        # training-data hashes recorded in model metadata (and model versions) stay valid.
        data: dict[str, Any] = handler(self)
        if data.get("provenance", 0) is None:
            del data["provenance"]
        return data
