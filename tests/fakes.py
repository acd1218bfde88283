"""Fakes of our own interfaces (agents.ports), for unit tests. One place, so they
cannot drift: each is checked against its Protocol in tests/unit/test_fakes.py."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from schemas.document import Document, LabelledDocument
from schemas.events import DocumentDecided, ReviewRequested
from schemas.fields import ExtractedField, Extraction, FieldSource
from schemas.finetune import JobRecord, ProviderJob
from schemas.llm import Completion
from schemas.messages import Outgoing
from schemas.retry import RetryAudit, RetryCandidate
from schemas.verdicts import ReferenceFacts, RuleReason, RuleResult, TriageResult


class FakeExtractor:
    """Reads `field: value` lines; confidence 0.99, or 0.5 for values marked with '?'."""

    version = "fake-extractor-1"

    async def extract(self, document: Document) -> Extraction:
        fields: dict[str, ExtractedField] = {}
        for i, line in enumerate(document.lines):
            name, sep, value = line.text.partition(":")
            if not sep:
                continue
            value = value.strip()
            conf = 0.5 if value.endswith("?") else 0.99
            fields[name.strip()] = ExtractedField(
                value=value.rstrip("?"), raw=value, confidence=conf, source=FieldSource(line=i)
            )
        return Extraction(kind=document.kind, fields=fields, model_version=self.version)


class OutageExtractor(FakeExtractor):
    """`FakeExtractor` while `down` is False; while True, the failure the LLM extractor
    returns when its server does not answer. Counts calls."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.calls = 0

    async def extract(self, document: Document) -> Extraction:
        self.calls += 1
        if self.down:
            failure = "llm_unavailable: no answer within 1s (3 attempts)"
            return Extraction(kind=document.kind, model_version=self.version, failure=failure)
        return await super().extract(document)


class FakeTriage:
    version = "fake-triage-1"

    def __init__(self, *, risk: float = 0.1, fail: str | None = None) -> None:
        self.risk = risk
        self.fail = fail

    async def classify(self, document: Document) -> TriageResult:
        return TriageResult(
            model_version=self.version,
            predicted_kind=document.kind,
            risk=1.0 if self.fail else self.risk,
            failure=self.fail,
        )


class FakeRules:
    """Rejects totals over `limit` (1000), asks review for duplicates and for totals over
    `review_over` (when set), approves the rest; with `trace_bytes`, every result carries
    an engine-like trace of about that size. Other limits are another rules version."""

    def __init__(
        self, *, trace_bytes: int = 0, limit: float = 1000, review_over: float | None = None
    ) -> None:
        self.trace_bytes = trace_bytes
        self.limit, self.review_over = limit, review_over
        default = limit == 1000 and review_over is None
        self.version = "fake-rules-1" if default else f"fake-rules-{limit:g}-{review_over}"

    def evaluate(
        self,
        *,
        document: Document,
        extraction: Extraction,
        triage: TriageResult,
        reference: ReferenceFacts,
        now: datetime,
    ) -> RuleResult:
        total = float(extraction.value("total") or 0)
        trace = {"graph": {"input": "T" * self.trace_bytes}} if self.trace_bytes else {}
        if reference.duplicate_of:
            reason = RuleReason(code="duplicate", message=f"duplicate of {reference.duplicate_of}")
            return RuleResult(rules_version=self.version, outcome="review", reasons=[reason], trace=trace)
        if total > self.limit:
            reason = RuleReason(code="over_limit", message=f"total over {self.limit:g}", severity="reject")
            return RuleResult(rules_version=self.version, outcome="reject", reasons=[reason], trace=trace)
        if self.review_over is not None and total > self.review_over:
            reason = RuleReason(code="approval_required", message=f"total over {self.review_over:g}")
            return RuleResult(rules_version=self.version, outcome="review", reasons=[reason], trace=trace)
        return RuleResult(rules_version=self.version, outcome="approve", trace=trace)


class FakeChatClient:
    """`agents.extract.llm.ChatClient` answering from a script of completions or
    exceptions (the last entry repeats); records calls and peak concurrency."""

    def __init__(self, *outcomes: Completion | BaseException, delay_s: float = 0.0) -> None:
        self.outcomes: deque[Completion | BaseException] = deque(outcomes)
        self.delay_s = delay_s
        self.calls: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak = 0
        self.closed = False

    async def complete(
        self,
        *,
        messages: Sequence[Mapping[str, str]],
        schema_name: str,
        json_schema: Mapping[str, Any],
        model: str,
    ) -> Completion:
        self.calls.append({"messages": messages, "schema_name": schema_name, "model": model})
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            outcome = self.outcomes.popleft() if len(self.outcomes) > 1 else self.outcomes[0]
        finally:
            self.in_flight -= 1
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def aclose(self) -> None:
        self.closed = True


class ScriptedExtractor:
    """Answers each document with a scripted extraction; refuses (AssertionError) to
    predict a document it "trained" on or one whose gold was not hidden from it."""

    def __init__(self, *, answers: Mapping[str, Extraction], trained_on: set[str], version: str) -> None:
        self.answers = answers
        self.trained_on = trained_on
        self.version = version

    async def extract(self, document: Document) -> Extraction:
        assert document.document_id not in self.trained_on, f"{document.document_id} was trained on"
        assert not getattr(document, "gold", None), "gold shown to the extractor"
        return self.answers[document.document_id].model_copy(update={"model_version": self.version})


class RecordingTrainer:
    """`feedback.evaluation.Trainer` returning `ScriptedExtractor`s; records each training set."""

    def __init__(self, answers: Mapping[str, Extraction]) -> None:
        self.answers = answers
        self.training_sets: list[set[str]] = []

    def __call__(self, documents: Sequence[LabelledDocument]) -> ScriptedExtractor:
        ids = {d.document_id for d in documents}
        self.training_sets.append(ids)
        return ScriptedExtractor(
            answers=self.answers, trained_on=ids, version=f"scripted-{len(self.training_sets)}"
        )


class FakeRetryStore:
    """`agents.ports.RetryStore` in memory. Candidates are given; the window and
    failure prefix filter them as the port says. A task in `reviewer_first` was taken
    by a person before the retry could commit: its transitions return None."""

    def __init__(
        self, candidates: Sequence[RetryCandidate] = (), *, reviewer_first: set[str] | None = None
    ) -> None:
        self.candidates = list(candidates)
        self.reviewer_first = reviewer_first or set()
        self.audit: list[tuple[str, RetryAudit]] = []
        self.superseded: dict[str, DocumentDecided] = {}
        self.rerouted: dict[str, tuple[ReviewRequested, str]] = {}
        self.outbox: dict[int, tuple[str, Outgoing]] = {}
        self.emitted: set[int] = set()
        self.closed: set[str] = set()

    async def retry_candidates(
        self, *, failure_prefix: str, since: datetime, limit: int
    ) -> list[RetryCandidate]:
        found = [
            c
            for c in self.candidates
            if c.task_id not in self.closed and c.created_at >= since and c.failure.startswith(failure_prefix)
        ]
        return sorted(found, key=lambda c: c.created_at)[:limit]

    def _add(self, key: str, message: Outgoing) -> list[Outgoing]:
        oid = len(self.outbox) + 1
        self.outbox[oid] = (key, Outgoing(message.topic, message.key, message.value, outbox_id=oid))
        return [self.outbox[oid][1]]

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
        if task_id in self.reviewer_first or task_id in self.closed:
            return None
        self.closed.add(task_id)
        self.superseded[task_id] = decision
        self.audit.append((task_id, audit))
        return self._add(f"llm-retry:decided:{decision.document_id}", message)

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
        if task.task_id in self.reviewer_first or task.task_id in self.closed:
            return None
        self.closed.add(task.task_id)  # its extraction no longer failed: not a candidate
        self.rerouted[task.task_id] = (task, thread_id)
        self.audit.append((task.task_id, audit))
        return self._add(f"llm-retry:review:{task.document_id}:{thread_id}", message)

    async def record_retry(self, *, task_id: str, document_id: str, audit: RetryAudit) -> None:
        self.audit.append((task_id, audit))

    async def unemitted(self, *, prefix: str, older_than: datetime, limit: int) -> list[Outgoing]:
        rows = [
            m
            for oid, (key, m) in sorted(self.outbox.items())
            if oid not in self.emitted and key.startswith(prefix)
        ]
        return rows[:limit]

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        self.emitted.update(outbox_ids)


# The store port's fake is long enough for a module of its own; import it from here.
from tests.fake_store import FakeDocumentStore  # noqa: E402, F401


class FakeFineTuningApi:
    """`feedback.finetune_jobs.FineTuningApi` in memory: each retrieve takes the next
    status of `statuses` (the last one repeats); `fail` raises before answering."""

    def __init__(self, *, statuses: list[str], fail: list[Exception] | None = None) -> None:
        self.statuses = statuses
        self.fail = fail or []
        self.uploads: list[str] = []
        self.polls = 0

    def _maybe_fail(self) -> None:
        if self.fail:
            raise self.fail.pop(0)

    def upload(self, *, name: str, content: bytes) -> str:
        self._maybe_fail()
        self.uploads.append(name)
        return f"file-{len(self.uploads)}"

    def create(self, **_: object) -> ProviderJob:
        self._maybe_fail()
        return ProviderJob(job_id="ftjob-1", status="validating_files")

    def retrieve(self, job_id: str) -> ProviderJob:
        self._maybe_fail()
        status = self.statuses[min(self.polls, len(self.statuses) - 1)]
        self.polls += 1
        model = "ft:base:org::1" if status == "succeeded" else None
        return ProviderJob(
            job_id=job_id, status=status, fine_tuned_model=model, trained_tokens=100 if model else None
        )

    def cancel(self, job_id: str) -> ProviderJob:
        return ProviderJob(job_id=job_id, status="cancelled")

    def events(self, job_id: str, *, limit: int = 20) -> list[str]:
        return []


class FakeJobStore:
    """`feedback.finetune_jobs.JobStore` in a dict."""

    def __init__(self) -> None:
        self.rows: dict[str, JobRecord] = {}

    def add(self, record: JobRecord) -> None:
        self.rows[record.job_id] = record

    def get(self, job_id: str) -> JobRecord | None:
        return self.rows.get(job_id)

    def save(self, record: JobRecord) -> None:
        self.rows[record.job_id] = record

    def recent(self, *, limit: int = 50) -> list[JobRecord]:
        return list(self.rows.values())[-limit:]
