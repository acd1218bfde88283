"""Replay: run the workflow again over stored documents, live or in shadow.

A replay is a row keyed by its id, with one item per selected document, fixed when the
replay is created (`ReplayStore.create`): resuming never re-selects. An item is marked
done in the same transaction as its effect, so after a crash or a cancel the next run
with the same id goes on with exactly the items whose effect did not commit, and a
finished replay run again does nothing.

- **live** (`LiveReplay`): the current models and rules; the store replaces the
  document's outcome in one transaction (`ReplayStore.apply`), conditional on the
  outcome still being the one the run started from. Outbox rows carry the replay id in
  their dedupe keys and are published here, after the commit; rows a failed publish
  left are relayed when the replay runs again.
- **shadow** (`ShadowReplay`, agents/replay_shadow.py): candidate versions, an
  in-memory checkpointer, nothing written but the replay's own rows.

Both run under `agents.replay_drive.drive`; `agents.replay_plan.plan` validates the
selection and creates the replay.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph

from agents.graph import drop_thread
from agents.replay_drive import ReplayStore
from agents.routing import review_due
from agents.service import outgoing_message, review_task_id
from agents.state import WorkflowContext
from schemas.events import DecisionSuperseded, DocumentDecided, Envelope, ReviewRequested
from schemas.messages import Outgoing, Topics
from schemas.replay import LiveChange, ReplayTarget
from schemas.verdicts import RouteDecision, RuleReason

log = logging.getLogger(__name__)

ACTOR = "system:replay"
Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]


def outbox_prefix(replay_id: str) -> str:
    return f"replay:{replay_id}:"


def replay_thread(document_id: str, replay_id: str) -> str:
    return f"{document_id}:replay:{replay_id}"


class LiveReplay:
    """Re-run the workflow with the serving models and rules and replace outcomes."""

    def __init__(
        self,
        *,
        store: ReplayStore,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        context: WorkflowContext,
        topics: Topics,
        sla_hours: float,
        publish: Publish,
        retryable: tuple[type[BaseException], ...] = (),
        source: str = "autoclerk",
    ) -> None:
        self._store, self._graph, self._ctx = store, graph, context
        self._topics, self._sla, self._publish = topics, sla_hours, publish
        self._retryable, self._source = retryable, source

    async def relay(self, *, replay_id: str) -> int:
        """Publish what an earlier run of this replay committed but could not send."""
        return await self._announce(await self._store.unemitted(prefix=outbox_prefix(replay_id)))

    async def one(self, target: ReplayTarget, *, replay_id: str, include_reviewed: bool) -> str:
        rid, doc = replay_id, target.document_id
        skip = self._skip_reason(target, include_reviewed=include_reviewed)
        if skip:
            await self._store.finish(replay_id=rid, document_id=doc, result=f"skipped:{skip}", detail={})
            return f"skipped:{skip}"
        thread = replay_thread(doc, rid)
        await self._drop(thread)  # a crashed earlier run of this replay may have left it
        forced = target.decided_by == "human"
        try:
            result = await self._run(target, thread=thread, forced=forced)
        except self._retryable:
            raise
        except Exception as exc:  # this document's problem: record it, go on with the next
            log.exception("replay %s of %s failed", rid, doc)
            await self._drop(thread)
            error = f"{type(exc).__name__}: {exc}"[:500]
            await self._store.finish(replay_id=rid, document_id=doc, result="failed", detail={"error": error})
            return "failed"
        change = self._change(target, result, replay_id=rid, thread=thread, forced=forced)
        if change is None:
            await self._drop(thread)
            await self._store.finish(
                replay_id=rid, document_id=doc, result="unchanged", detail=_versions(result)
            )
            return "unchanged"
        out = await self._store.apply(change=change)
        if not out:  # done before, or the outcome moved under us: the run is void
            await self._drop(thread)
            return "done-before" if out is None else "skipped:changed"
        if target.open_task_thread and target.open_task_thread != thread:
            await self._drop(target.open_task_thread)
        if change.decision is not None:
            await self._drop(thread)
        await self._announce(out)
        return "superseded" if change.decision is not None or target.open_task_id is None else "rerouted"

    @staticmethod
    def _skip_reason(target: ReplayTarget, *, include_reviewed: bool) -> str | None:
        if target.status not in ("decided", "review") or target.outcome is None:
            return "no-outcome-yet"
        if target.decided_by == "human" and not include_reviewed:
            return "reviewed"
        if target.open_task_assignee:
            return "leased"
        return None

    async def _run(self, target: ReplayTarget, *, thread: str, forced: bool) -> dict[str, Any]:
        state: dict[str, Any] = {
            "document": target.document.model_dump(mode="json"),
            "received_at": target.received_at.isoformat(),
            "model_refs": dict(self._ctx.model_refs),
        }
        if forced:
            why = RuleReason(
                code="replay_rereview",
                message="a reviewer decided this document; a replay sends it to a person again",
                rule="replay",
            )
            state["force_review"] = [why.model_dump(mode="json")]
        result: dict[str, Any] = await self._graph.ainvoke(
            state, config={"configurable": {"thread_id": thread}}, context=self._ctx, durability="exit"
        )
        return result

    def _change(
        self, target: ReplayTarget, result: dict[str, Any], *, replay_id: str, thread: str, forced: bool
    ) -> LiveChange | None:
        doc, prefix = target.document_id, outbox_prefix(replay_id)
        correlation = target.correlation_id
        if "__interrupt__" not in result:
            decided = DocumentDecided.model_validate({**result["decision"], "document_id": doc})
            if (
                target.outcome == decided.outcome
                and target.decision_fields == decided.fields
                and (target.decision_reasons == [r.code for r in decided.reasons])
            ):
                return None
            env = Envelope[DocumentDecided](
                type="document.decided", source=self._source, correlation_id=correlation, payload=decided
            )
            msg = outgoing_message(self._topics.decided, doc, env)
            reason = f"replay {replay_id}: the current models and rules decide {decided.outcome}"
            return LiveChange(
                replay_id=replay_id,
                target=target,
                state=result,
                thread_id=thread,
                decision=decided,
                messages=[_keyed(msg, f"{prefix}decided:{doc}")],
                superseded=self._superseded(target, replay_id, "decision", decided.outcome, reason),
                reason=reason,
            )
        routed = RouteDecision.model_validate(result["route"])
        codes = [r.code for r in routed.reasons]
        if target.open_task_id and target.open_task_reasons == codes and not forced:
            return None
        task = self._task(target, result, routed, replay_id=replay_id)
        env2 = Envelope[ReviewRequested](
            type="review.requested", source=self._source, correlation_id=correlation, payload=task
        )
        msg = outgoing_message(self._topics.review_requested, doc, env2)
        reason = f"replay {replay_id}: sent to review again ({', '.join(codes) or 'no reason'})"
        previous_decision = target.outcome in ("approve", "reject")
        return LiveChange(
            replay_id=replay_id,
            target=target,
            state=result,
            thread_id=thread,
            task=task,
            messages=[_keyed(msg, f"{prefix}review:{doc}")],
            superseded=self._superseded(target, replay_id, "review", "review", reason)
            if previous_decision
            else None,
            reason=reason,
        )

    def _task(
        self, target: ReplayTarget, result: dict[str, Any], routed: RouteDecision, *, replay_id: str
    ) -> ReviewRequested:
        doc = target.document_id
        if target.open_task_id:
            task_id = target.open_task_id
        elif target.had_task:  # its old task keeps its answer, opinions and corrections
            task_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"review:{doc}:replay:{replay_id}"))
        else:
            task_id = review_task_id(doc)
        start: datetime = (
            target.task_created_at if target.open_task_id and target.task_created_at else self._ctx.clock()
        )
        return ReviewRequested(
            task_id=task_id,
            document_id=doc,
            kind=target.document.kind,
            claim_type=target.document.claim_type,
            queue=target.queue,
            reasons=routed.reasons,
            priority=routed.priority,
            due_at=review_due(start=start, priority=routed.priority, sla_hours=self._sla),
            extraction=result["extraction"],
            triage=result["triage"],
            rules=result["rules"],
        )

    def _superseded(
        self,
        target: ReplayTarget,
        replay_id: str,
        replacement: Literal["decision", "review"],
        new: str,
        reason: str,
    ) -> Callable[[int | None, str | None], tuple[str, Outgoing]]:
        doc = target.document_id

        def build(history_id: int | None, closed_task: str | None) -> tuple[str, Outgoing]:
            payload = DecisionSuperseded(
                document_id=doc,
                replay_id=replay_id,
                previous_outcome=target.outcome or "review",
                previous_decided_by=target.decided_by,
                previous_decision=history_id,
                closed_task_id=closed_task,
                replacement=replacement,
                new_outcome=new,
                reason=reason,
            )
            env = Envelope[DecisionSuperseded](
                type="decision.superseded",
                source=self._source,
                correlation_id=target.correlation_id,
                payload=payload,
            )
            return _keyed(
                outgoing_message(self._topics.decided, doc, env),
                f"{outbox_prefix(replay_id)}superseded:{doc}",
            )

        return build

    async def _announce(self, messages: list[Outgoing]) -> int:
        if not messages:
            return 0
        try:
            await self._publish(messages)
        except self._retryable:
            raise
        except Exception as exc:  # the rows stay unemitted: running the replay again relays them
            log.warning(
                "replay could not publish %d messages (%r); run it again to relay", len(messages), exc
            )
            return 0
        await self._store.mark_emitted(outbox_ids=[m.outbox_id for m in messages if m.outbox_id is not None])
        return len(messages)

    async def _drop(self, thread: str) -> None:
        await drop_thread(self._graph, thread)


def _keyed(message: Outgoing, key: str) -> tuple[str, Outgoing]:
    return key, message


def _versions(result: dict[str, Any]) -> dict[str, Any]:
    decision = result.get("decision") or {}
    return {
        "model_versions": decision.get("model_versions", {}),
        "rules_version": decision.get("rules_version"),
    }
