"""The interfaces the workflow needs from the outside world.

Adapters (ONNX sessions, trained extractors, the OpenAI client, zen-engine) implement
these; nodes receive them through the graph's runtime context and never build them.
Fakes for unit tests live in `tests/fakes.py` and subclass nothing but these shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from schemas.document import Document
from schemas.events import (
    DocumentDecided,
    DocumentReceived,
    Envelope,
    ReviewCompleted,
    ReviewRequested,
)
from schemas.fields import Extraction
from schemas.messages import MessageMeta, Outgoing
from schemas.verdicts import ReferenceFacts, RuleResult, TriageResult


@runtime_checkable
class Extractor(Protocol):
    """Reads fields out of a document. Never raises for a bad document:
    it returns an `Extraction` with `failure` set, which routes to review."""

    @property
    def version(self) -> str: ...

    async def extract(self, document: Document) -> Extraction: ...


@runtime_checkable
class TriageClassifier(Protocol):
    """Fast first look: document kind and the likelihood a human must intervene.
    Implementations may micro-batch concurrent calls."""

    @property
    def version(self) -> str: ...

    async def classify(self, document: Document) -> TriageResult: ...


@runtime_checkable
class RulesEvaluator(Protocol):
    """Pure: inputs in, verdict out; the clock and reference data are passed in."""

    @property
    def version(self) -> str: ...

    def evaluate(
        self,
        *,
        document: Document,
        extraction: Extraction,
        triage: TriageResult,
        reference: ReferenceFacts,
        now: datetime,
    ) -> RuleResult: ...


@dataclass(frozen=True)
class Admission:
    """What the store knows about an incoming document before we work on it."""

    status: Literal["new", "resume", "done", "duplicate", "conflict"]
    detail: str = ""
    pending: list[Outgoing] = field(default_factory=list)


@dataclass(frozen=True)
class TaskView:
    task_id: str
    document_id: str
    status: str
    created_at: datetime


class DocumentStore(Protocol):
    """Persistence the service layer needs; every write is idempotent by a unique key."""

    async def seen_offset(self, *, meta: MessageMeta, raw: bytes) -> bool: ...

    async def dead_letter(
        self,
        *,
        meta: MessageMeta,
        raw: bytes,
        reason: str,
        error_type: str,
        message: Outgoing,
    ) -> list[Outgoing]: ...

    async def admit(
        self,
        *,
        meta: MessageMeta,
        raw: bytes,
        envelope: Envelope[DocumentReceived],
        document: Document,
    ) -> Admission: ...

    async def pending(self, *, document_id: str) -> list[Outgoing]: ...

    async def save_decision(
        self,
        *,
        document_id: str,
        state: dict[str, Any],
        decision: DocumentDecided,
        message: Outgoing,
    ) -> list[Outgoing]: ...

    async def save_review_task(
        self,
        *,
        document_id: str,
        state: dict[str, Any],
        task: ReviewRequested,
        message: Outgoing,
    ) -> list[Outgoing]: ...

    async def task(self, *, task_id: str) -> TaskView | None: ...

    async def complete_review(
        self,
        *,
        meta: MessageMeta,
        raw: bytes,
        review: ReviewCompleted,
        decision: DocumentDecided,
        messages: list[Outgoing],
    ) -> list[Outgoing] | None:
        """None when the task was no longer open (a concurrent completion won)."""

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None: ...

    async def mark_undeliverable(self, *, outbox_ids: list[int], reason: str) -> None:
        """These outbox messages can never be sent: record why, and never announce them again."""

    async def reference_facts(self, *, extraction: Extraction, document_id: str) -> ReferenceFacts: ...
