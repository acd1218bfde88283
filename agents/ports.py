"""The interfaces the workflow needs from the outside world.

Adapters (ONNX sessions, trained extractors, the OpenAI client, zen-engine) implement
these; nodes receive them through the graph's runtime context and never build them.
Fakes for unit tests live in `tests/fakes.py` and subclass nothing but these shapes.
"""

from __future__ import annotations

__all__ = [
    "Admission",
    "DocumentStore",
    "Extractor",
    "RetryStore",
    "ReviewTaskRecord",
    "RulesEvaluator",
    "TriageClassifier",
]

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

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
from schemas.retry import RetryAudit, RetryCandidate
from schemas.store import Admission, ReviewTaskRecord
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

    async def task(self, *, task_id: str) -> ReviewTaskRecord | None: ...

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


class RetryStore(Protocol):
    """What re-extraction after an LLM outage needs (`agents.llm_retry`).

    `supersede` and `reroute` are each one transaction that first locks the task and
    re-checks that it is still a candidate: open, unleased, never touched by a person
    (no lease, answer or other action of theirs on record) and its stored extraction
    still failed with `failure_prefix`. Otherwise they change nothing and return None:
    a reviewer who came first wins.
    """

    async def retry_candidates(
        self, *, failure_prefix: str, since: datetime, limit: int
    ) -> list[RetryCandidate]:
        """Oldest first, created at or after `since`."""

    async def supersede(
        self,
        *,
        task_id: str,
        failure_prefix: str,
        state: dict[str, Any],
        decision: DocumentDecided,
        message: Outgoing,
        audit: RetryAudit,
    ) -> list[Outgoing] | None:
        """Close the task as superseded; store the run's results, the decision, its
        outbox row and the audit event."""

    async def reroute(
        self,
        *,
        task: ReviewRequested,
        thread_id: str,
        failure_prefix: str,
        state: dict[str, Any],
        message: Outgoing,
        audit: RetryAudit,
    ) -> list[Outgoing] | None:
        """Keep the task open with the run's reasons, priority and results, waiting on
        `thread_id`; store the outbox row and the audit event."""

    async def record_retry(self, *, task_id: str, document_id: str, audit: RetryAudit) -> None:
        """An attempt that changed nothing (the LLM still down, a reviewer first)."""

    async def unemitted(self, *, prefix: str, older_than: datetime, limit: int) -> list[Outgoing]:
        """Outbox rows whose dedupe key starts with `prefix`, not yet marked emitted."""

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None: ...
