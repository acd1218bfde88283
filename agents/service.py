"""The service layer: one function per incoming event kind.

The stream edge hands us raw bytes and where they came from; we return the
messages to publish. Every outcome is stored before it is announced (outbox), and
every store write is keyed so that a redelivery re-announces instead of redoing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agents.budget import DEFAULT_MAX_MESSAGE_BYTES, Part, dead_letter_key, fit
from agents.budget import dead_letter as dead_letter_message
from agents.decode import DocumentLimits, PdfParser, decode_envelope, parse_document
from agents.errors import (
    AgentError,
    ContentConflict,
    InvalidEvent,
    ReviewRefused,
    WorkflowError,
)
from agents.graph import run_straight_through
from agents.outgoing import (
    correction_parts,
    dead_letter_record,
    decision_parts,
    review_parts,
    review_summary,
)
from agents.ports import DocumentStore
from agents.routing import review_due
from agents.state import WorkflowContext, WorkflowState
from agents.telemetry import bind_document, count_dead_letter, count_document, count_review, stage
from schemas.events import (
    CorrectionRecorded,
    DocumentDecided,
    DocumentReceived,
    Envelope,
    ReviewCompleted,
    ReviewRequested,
)
from schemas.messages import MessageMeta, Outgoing, Topics
from schemas.verdicts import RouteDecision

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ServiceConfig:
    topics: Topics
    max_event_bytes: int
    sla_hours: float
    source: str = "autoclerk"
    retryable: tuple[type[BaseException], ...] = ()
    """Transient infrastructure errors: re-raised as they are so the edge retries,
    never turned into dead letters."""
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Every outgoing message (key + value) is built to fit (see `agents.budget`)."""
    limits: DocumentLimits = field(default_factory=DocumentLimits)


def review_task_id(document_id: str) -> str:
    """The one review task of a document, the same on every delivery: a redelivered
    `document.received` must find (not duplicate) the task its first delivery made.

    The id is predictable from the document id on purpose, and that is no access
    control: the review service answers 404 for any task outside the caller's scopes
    (review/scopes.py), whether or not the id was guessed. A keyed hash (HMAC with a
    secret) would only hide ids, and rotating its secret would give a redelivery a new
    task id for a document that already has one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"review:{document_id}"))


def outgoing_message(topic: str, key: str, envelope: Envelope[Any]) -> Outgoing:
    return Outgoing(topic=topic, key=key.encode(), value=envelope.model_dump_json().encode())


class DocumentService:
    """Implements the stream edge's `Processor` protocol."""

    def __init__(
        self,
        *,
        store: DocumentStore,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        context: WorkflowContext,
        config: ServiceConfig,
        parse_pdf: PdfParser,
    ) -> None:
        self._store = store
        self._graph = graph
        self._ctx = context
        self._cfg = config
        self._parse_pdf = parse_pdf

    async def on_received(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        try:
            return await self._received(raw=raw, meta=meta)
        except AgentError as exc:
            # A document whose workflow cannot run is dead-lettered with the reason
            # rather than lost; the dead letter keeps its original bytes for replay.
            return await self._dead_letter(raw=raw, meta=meta, exc=exc)

    async def on_review_completed(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        try:
            return await self._review_completed(raw=raw, meta=meta)
        except InvalidEvent as exc:
            return await self._dead_letter(raw=raw, meta=meta, exc=exc)

    def use_context(self, context: WorkflowContext) -> None:
        """Documents received from now on run with `context` (new model versions);
        those in flight finish with the one they started with."""
        self._ctx = context

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        await self._store.mark_emitted(outbox_ids=outbox_ids)

    async def mark_undeliverable(self, *, outbox_ids: list[int], reason: str) -> None:
        await self._store.mark_undeliverable(outbox_ids=outbox_ids, reason=reason)

    async def _received(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        with stage("decode"):
            env = decode_envelope(
                raw,
                payload=DocumentReceived,
                event_type="document.received",
                max_bytes=self._cfg.max_event_bytes,
            )
            correlation = env.correlation_id or env.event_id
            bind_document(document_id=env.payload.document_id, correlation_id=correlation)
            document = parse_document(env.payload, parse_pdf=self._parse_pdf, limits=self._cfg.limits)
            admission = await self._store.admit(meta=meta, raw=raw, envelope=env, document=document)
        if admission.status == "conflict":
            raise ContentConflict(admission.detail)
        if admission.status in ("done", "duplicate"):
            count_document(kind=document.kind, outcome="duplicate")
            return admission.pending
        ctx = self._ctx  # this document's models, whatever a promotion swaps in meanwhile
        state: WorkflowState = {"received_at": env.time.isoformat(), "model_refs": dict(ctx.model_refs)}
        thread = document.document_id
        run = run_straight_through(state, context=ctx, document=document)
        result = await self._guarded(run, thread=thread)
        if "decision" not in result:
            # Routed to review: only now does the workflow need the graph and a
            # checkpoint, entered at the human-review pause with the verdicts.
            await self._run(result, thread=thread, context=ctx)
            return await self._request_review(dict(result), env=env, correlation=correlation)
        return await self._decide(dict(result), document_id=document.document_id, correlation=correlation)

    async def _run(
        self, graph_input: Any, *, thread: str, context: WorkflowContext | None = None
    ) -> dict[str, Any]:
        run = self._graph.ainvoke(
            graph_input,
            config={"configurable": {"thread_id": thread}},
            context=context or self._ctx,
            durability="exit",
        )
        result: dict[str, Any] = await self._guarded(run, thread=thread)
        return result

    async def _guarded(self, run: Awaitable[T], *, thread: str) -> T:
        """Workflow failures become `WorkflowError` (a dead letter with the reason);
        bad input and transient infrastructure errors pass as they are."""
        try:
            return await run
        except InvalidEvent:
            raise
        except self._cfg.retryable:
            raise
        except Exception as exc:
            raise WorkflowError(f"workflow failed for {thread}: {type(exc).__name__}: {exc}") from exc

    async def _decide(self, result: dict[str, Any], *, document_id: str, correlation: str) -> list[Outgoing]:
        decided = DocumentDecided.model_validate({**result["decision"], "document_id": document_id})
        env = Envelope[DocumentDecided](
            type="document.decided",
            source=self._cfg.source,
            correlation_id=correlation,
            payload=decided,
        )
        msg = self._fit(self._cfg.topics.decided, document_id, env, decision_parts(document_id=document_id))
        with stage("store"):
            out = await self._store.save_decision(
                document_id=document_id, state=result, decision=decided, message=msg
            )
        count_document(kind=decided.kind, outcome=decided.outcome)
        log.info("decided %s straight through", decided.outcome)  # ids come from the log context
        return out

    async def _request_review(
        self,
        result: dict[str, Any],
        *,
        env: Envelope[DocumentReceived],
        correlation: str,
    ) -> list[Outgoing]:
        doc = env.payload
        routed = RouteDecision.model_validate(result["route"])
        now: datetime = self._ctx.clock()
        task = ReviewRequested(
            task_id=review_task_id(doc.document_id),
            document_id=doc.document_id,
            kind=doc.kind,
            claim_type=doc.claim_type,
            queue=doc.queue,
            reasons=routed.reasons,
            priority=routed.priority,
            due_at=review_due(start=now, priority=routed.priority, sla_hours=self._cfg.sla_hours),
            extraction=result["extraction"],
            triage=result["triage"],
            rules=result["rules"],
        )
        out = Envelope[ReviewRequested](
            type="review.requested",
            source=self._cfg.source,
            correlation_id=correlation,
            payload=review_summary(task),
        )
        msg = self._fit(self._cfg.topics.review_requested, doc.document_id, out, review_parts(task))
        with stage("store"):
            saved = await self._store.save_review_task(
                document_id=doc.document_id, state=result, task=task, message=msg
            )
        count_document(kind=doc.kind, outcome="review")
        log.info("sent to review: %s", ", ".join(r.code for r in routed.reasons))
        return saved

    async def _review_completed(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        env = decode_envelope(
            raw,
            payload=ReviewCompleted,
            event_type="review.completed",
            max_bytes=self._cfg.max_event_bytes,
        )
        review = env.payload
        if await self._store.seen_offset(meta=meta, raw=raw):
            return await self._store.pending(document_id=review.document_id)
        task = await self._store.task(task_id=review.task_id)
        if task is None:
            raise ReviewRefused(f"unknown review task {review.task_id}")
        if task.document_id != review.document_id:
            raise ReviewRefused(
                f"task {review.task_id} belongs to document {task.document_id}, not {review.document_id}"
            )
        if task.status != "open":
            raise ReviewRefused(
                f"task {review.task_id} is already {task.status}: duplicate or late completion refused"
            )
        # A task an LLM retry re-routed waits on the thread that retry ran on.
        thread = task.thread_id or review.document_id
        result = await self._run(Command(resume=review.model_dump(mode="json")), thread=thread)
        if "decision" not in result:
            raise WorkflowError(f"no waiting workflow for document {review.document_id}")
        decided = DocumentDecided.model_validate({**result["decision"], "document_id": review.document_id})
        done = await self._store.complete_review(
            meta=meta,
            raw=raw,
            review=review,
            decision=decided,
            messages=self._completion_messages(env, decided),
        )
        if done is None:
            raise ReviewRefused(f"task {review.task_id} was completed concurrently; refused")
        count_review(kind=decided.kind, outcome=decided.outcome)
        return done

    def _completion_messages(
        self, env: Envelope[ReviewCompleted], decided: DocumentDecided
    ) -> list[Outgoing]:
        correlation = env.correlation_id or env.event_id
        key = decided.document_id
        out = Envelope[DocumentDecided](
            type="document.decided",
            source=self._cfg.source,
            correlation_id=correlation,
            payload=decided,
        )
        msgs = [self._fit(self._cfg.topics.decided, key, out, decision_parts(document_id=key))]
        if env.payload.corrections:
            fb = Envelope[CorrectionRecorded](
                type="feedback.correction",
                source=self._cfg.source,
                correlation_id=correlation,
                payload=CorrectionRecorded(
                    document_id=key,
                    kind=decided.kind,
                    reviewer=env.payload.reviewer,
                    corrections=env.payload.corrections,
                ),
            )
            parts = correction_parts(document_id=key, task_id=env.payload.task_id)
            msgs.append(self._fit(self._cfg.topics.corrections, key, fb, parts))
        return msgs

    def _fit(self, topic: str, key: str, envelope: Envelope[Any], parts: list[Part]) -> Outgoing:
        return fit(
            topic=topic, key=key, envelope=envelope, parts=parts, max_bytes=self._cfg.max_message_bytes
        )

    async def _dead_letter(self, *, raw: bytes, meta: MessageMeta, exc: Exception) -> list[Outgoing]:
        return await self.dead_letter(raw=raw, meta=meta, reason=str(exc), error_type=type(exc).__name__)

    async def dead_letter(
        self, *, raw: bytes, meta: MessageMeta, reason: str, error_type: str
    ) -> list[Outgoing]:
        """Record `raw` as a dead letter (database + outbox) and return the message."""
        # A reason can quote input: keep it storable (no NUL, no lone surrogates).
        reason = reason.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:2000]
        count_dead_letter(error_type=error_type)
        msg = dead_letter_message(
            raw=raw,
            meta=meta,
            reason=reason,
            error_type=error_type,
            topic=self._cfg.topics.deadletter,
            key=dead_letter_key(meta),
            source=self._cfg.source,
            record=dead_letter_record(raw=raw, meta=meta),
            max_bytes=self._cfg.max_message_bytes,
        )
        return await self._store.dead_letter(
            meta=meta,
            raw=raw,
            reason=reason,
            error_type=error_type,
            message=msg,
        )
