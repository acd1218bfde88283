"""Extract again what an LLM outage sent to people.

While the LLM server is down the extractor answers `llm_unavailable` and routing sends
the document to review; without this, an outage of minutes becomes hours of human work.
Each round (`LlmRetrier.tick`) takes a bounded batch of open review tasks whose
extraction failed that way, created within the retry window, that no person has
touched, oldest first, and runs the workflow for each again from the stored document.
The first answer that is still `llm_unavailable` ends the round: the server is still
down (or rate-limiting us), and more calls would only add to its load.

Each run goes on a new workflow thread, never the one the task waits on: until the
store's conditional commit the run is speculative, and if a reviewer leases or answers
the task first, their workflow must still be the one they saw. The store then commits
one of two outcomes in one transaction, conditional on the task still being untouched:

- the run needs no person: the task closes as superseded, with the decision and its
  outbox row (exactly one decision per document, as always);
- it still needs one for other reasons: the same task keeps its id with the new reasons,
  priority and extraction, and now waits on the new thread (`review_tasks.thread_id`).

Every attempt ends in exactly one review-audit event by `system:llm-retry`. The rows
this path writes to the outbox are published here (there is no consumed message to
acknowledge them with) and any a failed publish left are sent on the next round.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph

from agents.extract.llm import UNAVAILABLE
from agents.graph import drop_thread
from agents.ports import RetryStore
from agents.routing import review_due
from agents.service import outgoing_message
from agents.state import WorkflowContext
from schemas.events import DocumentDecided, Envelope, ReviewRequested
from schemas.messages import Outgoing, Topics
from schemas.retry import RetryAudit, RetryCandidate
from schemas.verdicts import RouteDecision

log = logging.getLogger(__name__)

ACTOR = "system:llm-retry"
OUTBOX_PREFIX = "llm-retry:"
Outcome = Literal["superseded", "rerouted", "discarded", "unavailable", "failed"]
Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
"""Sends every message and returns once the broker acknowledged all of them."""


@dataclass(frozen=True)
class RetryConfig:
    topics: Topics
    window: timedelta
    batch: int
    sla_hours: float
    relay_after: timedelta = timedelta(seconds=30)
    """Unemitted rows of this path younger than this may still be in a publish."""
    source: str = "autoclerk"
    retryable: tuple[type[BaseException], ...] = ()
    """Transient infrastructure errors: they end the round and propagate."""


@dataclass
class RetryReport:
    candidates: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    published: int = 0
    relayed: int = 0


class LlmRetrier:
    def __init__(
        self,
        *,
        store: RetryStore,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        context: WorkflowContext,
        config: RetryConfig,
    ) -> None:
        self._store = store
        self._graph = graph
        self._ctx = context
        self._cfg = config

    async def tick(self, *, publish: Publish) -> RetryReport:
        """One round: relay leftovers, then retry up to `batch` candidates."""
        report = RetryReport()
        now = self._ctx.clock()
        left = await self._store.unemitted(
            prefix=OUTBOX_PREFIX, older_than=now - self._cfg.relay_after, limit=self._cfg.batch
        )
        report.relayed = await self._announce(left, publish)
        found = await self._store.retry_candidates(
            failure_prefix=UNAVAILABLE, since=now - self._cfg.window, limit=self._cfg.batch
        )
        report.candidates = len(found)
        for candidate in found:
            outcome, messages = await self._retry(candidate)
            report.outcomes[outcome] += 1
            report.published += await self._announce(messages, publish)
            if outcome == "unavailable":
                break
        return report

    async def _retry(self, c: RetryCandidate) -> tuple[Outcome, list[Outgoing]]:
        thread = f"{c.document_id}:llm-retry:{uuid.uuid4().hex[:12]}"
        try:
            result = await self._run(c, thread)
        except self._cfg.retryable:
            await self._drop(thread)
            raise
        except Exception as exc:  # this document's problem: record it, go on with the next
            log.exception("LLM retry of %s failed", c.document_id)
            await self._drop(thread)
            await self._record(
                c, "llm_retry_failed", thread=thread, error=f"{type(exc).__name__}: {exc}"[:500]
            )
            return "failed", []
        failure = str(result.get("extraction", {}).get("failure") or "")
        if failure.startswith(UNAVAILABLE):
            await self._drop(thread)
            await self._record(c, "llm_retry_unavailable", failure=failure[:500])
            return "unavailable", []
        detail = {"thread": thread, "previous_failure": c.failure[:500]}
        if "__interrupt__" in result:
            outcome: Outcome = "rerouted"
            out = await self._reroute(c, result, thread=thread, detail=detail)
        else:
            outcome = "superseded"
            out = await self._supersede(c, result, detail=detail)
        if out is None:
            await self._drop(thread)
            await self._record(c, "llm_retry_discarded", thread=thread, why="a person took the task first")
            return "discarded", []
        # Nothing will resume the thread the task waited on; a superseded run's own
        # thread has ended. Their checkpoints are garbage now.
        await self._drop(c.thread_id)
        if outcome == "superseded":
            await self._drop(thread)
        return outcome, out

    def use_context(self, context: WorkflowContext) -> None:
        """Retries from now on run with these model versions (a promotion)."""
        self._ctx = context

    async def _run(self, c: RetryCandidate, thread: str) -> dict[str, Any]:
        ctx = self._ctx
        state = {
            "document": c.document.model_dump(mode="json"),
            "received_at": c.received_at.isoformat(),
            "model_refs": dict(ctx.model_refs),
        }
        result: dict[str, Any] = await self._graph.ainvoke(
            state,
            config={"configurable": {"thread_id": thread}},
            context=ctx,
            durability="exit",
        )
        return result

    async def _supersede(
        self, c: RetryCandidate, result: dict[str, Any], *, detail: dict[str, Any]
    ) -> list[Outgoing] | None:
        decided = DocumentDecided.model_validate({**result["decision"], "document_id": c.document_id})
        env = Envelope[DocumentDecided](
            type="document.decided", source=self._cfg.source, correlation_id=c.correlation_id, payload=decided
        )
        audit = RetryAudit(
            actor=ACTOR,
            action="llm_retry_superseded",
            detail={
                **detail,
                "outcome": decided.outcome,
                "extractor": decided.model_versions.get("extractor"),
            },
        )
        return await self._store.supersede(
            task_id=c.task_id,
            failure_prefix=UNAVAILABLE,
            state=result,
            decision=decided,
            message=outgoing_message(self._cfg.topics.decided, c.document_id, env),
            audit=audit,
        )

    async def _reroute(
        self, c: RetryCandidate, result: dict[str, Any], *, thread: str, detail: dict[str, Any]
    ) -> list[Outgoing] | None:
        routed = RouteDecision.model_validate(result["route"])
        task = ReviewRequested(
            task_id=c.task_id,
            document_id=c.document_id,
            kind=c.document.kind,
            claim_type=c.document.claim_type,
            reasons=routed.reasons,
            priority=routed.priority,
            # the SLA still runs from when the document first waited for a person
            due_at=review_due(start=c.created_at, priority=routed.priority, sla_hours=self._cfg.sla_hours),
            extraction=result["extraction"],
            triage=result["triage"],
            rules=result["rules"],
        )
        env = Envelope[ReviewRequested](
            type="review.requested", source=self._cfg.source, correlation_id=c.correlation_id, payload=task
        )
        audit = RetryAudit(
            actor=ACTOR,
            action="llm_retry_rerouted",
            detail={**detail, "reasons": [r.code for r in routed.reasons], "priority": routed.priority},
        )
        return await self._store.reroute(
            task=task,
            thread_id=thread,
            failure_prefix=UNAVAILABLE,
            state=result,
            message=outgoing_message(self._cfg.topics.review_requested, c.document_id, env),
            audit=audit,
        )

    async def _record(self, c: RetryCandidate, action: str, **detail: Any) -> None:
        audit = RetryAudit(actor=ACTOR, action=action, detail=detail)
        await self._store.record_retry(task_id=c.task_id, document_id=c.document_id, audit=audit)

    async def _announce(self, messages: list[Outgoing], publish: Publish) -> int:
        if not messages:
            return 0
        try:
            await publish(messages)
        except Exception as exc:  # the rows stay unemitted: the next round relays them
            log.warning("LLM retry could not publish %d messages (%r); relaying later", len(messages), exc)
            return 0
        await self._store.mark_emitted(outbox_ids=[m.outbox_id for m in messages if m.outbox_id is not None])
        return len(messages)

    async def _drop(self, thread: str) -> None:
        await drop_thread(self._graph, thread)
