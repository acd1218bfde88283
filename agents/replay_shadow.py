"""Counterfactual replay: what candidate versions would have done, with nothing emitted.

The workflow runs with the candidate's context on an in-memory checkpointer (the
human-review interrupt needs one; nothing of it reaches the database), and each
document's comparison is stored on its replay item, so a cancelled shadow replay
resumes and its report covers every document once.

- before: how the machine routed the document then: its automatic decision, or
  review (an open task, or a reviewer's decision).
- after: how the candidate routes it.
- labels: a reviewer's decision is the truth we have. Against it, a configuration's
  straight-through answer is wrong when its outcome or a mandatory field differs;
  and a mandatory field read differently from the label counts as a field error
  whether or not the document would have gone straight through.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from agents.replay import ReplayStore
from agents.state import WorkflowContext
from schemas.catalogue import mandatory
from schemas.replay import ErrorEstimate, FieldChange, ReplayTarget, Route, ShadowReport, ShadowRow
from schemas.values import comparison_key, normalize

log = logging.getLogger(__name__)


def _values(extraction: dict[str, Any] | None) -> dict[str, str | None]:
    fields = (extraction or {}).get("fields") or {}
    return {name: f.get("value") for name, f in fields.items()}


def _same(field: str, a: str | None, b: str | None) -> bool:
    def key(v: str | None) -> str | None:
        return comparison_key(normalize(field, v) or v)

    return key(a) == key(b)


def _wrong(kind: str, values: dict[str, str | None], label: dict[str, str | None]) -> list[str]:
    return [f for f in mandatory(kind) if f in label and not _same(f, values.get(f), label.get(f))]


def _cost(extraction: dict[str, Any]) -> float:
    try:
        return float((extraction.get("notes") or {}).get("cost_usd") or 0)
    except ValueError:
        return 0.0


def compare(target: ReplayTarget, result: dict[str, Any]) -> ShadowRow:
    """One document: the stored outcome and extraction against the candidate's."""
    after_extraction = result.get("extraction") or {}
    after: Route = "review" if "__interrupt__" in result else result["decision"]["outcome"]
    before: Route = "review" if target.decided_by == "human" or target.outcome is None else target.outcome
    old, new = _values(target.extraction), _values(after_extraction)
    changes = [
        FieldChange(field=f, before=old.get(f), after=new.get(f))
        for f in sorted(set(old) | set(new))
        if not _same(f, old.get(f), new.get(f))
    ]
    human = target.decided_by == "human"
    kind = target.document.kind
    return ShadowRow(
        document_id=target.document_id,
        kind=kind,
        before=before,
        after=after,
        decided_by=target.decided_by,
        label=target.outcome if human else None,
        after_reasons=[r["code"] for r in (result.get("route") or {}).get("reasons", [])],
        field_changes=changes,
        wrong_before=_wrong(kind, old, target.decision_fields) if human else None,
        wrong_after=_wrong(kind, new, target.decision_fields) if human else None,
        cost_usd=_cost(after_extraction),
    )


class ShadowReplay:
    def __init__(
        self,
        *,
        store: ReplayStore,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        context: WorkflowContext,
        retryable: tuple[type[BaseException], ...] = (),
    ) -> None:
        self._store, self._graph, self._ctx, self._retryable = store, graph, context, retryable

    async def one(self, target: ReplayTarget, *, replay_id: str) -> str:
        thread = f"shadow:{target.document_id}:{uuid.uuid4().hex[:8]}"
        state = {
            "document": target.document.model_dump(mode="json"),
            "received_at": target.received_at.isoformat(),
            "model_refs": dict(self._ctx.model_refs),
        }
        try:
            result = await self._graph.ainvoke(
                state, config={"configurable": {"thread_id": thread}}, context=self._ctx, durability="exit"
            )
            row = compare(target, result)
            outcome = "shadow"
        except self._retryable:
            raise
        except Exception as exc:  # the candidate's problem on this document: it is in the report
            log.exception("shadow replay of %s failed", target.document_id)
            before: Route = "review" if target.decided_by == "human" or not target.outcome else target.outcome
            row = ShadowRow(
                document_id=target.document_id,
                kind=target.document.kind,
                before=before,
                after="review",
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
            outcome = "failed"
        finally:
            saver = self._graph.checkpointer
            if saver is not None and not isinstance(saver, bool):
                await saver.adelete_thread(thread)  # in memory: only the process's own garbage
        await self._store.finish(
            replay_id=replay_id,
            document_id=target.document_id,
            result=outcome,
            detail=row.model_dump(mode="json"),
        )
        return outcome


def _estimate(rows: list[ShadowRow], *, after: bool) -> ErrorEstimate:
    labelled = [r for r in rows if r.label is not None]
    routed = [(r, r.after if after else r.before) for r in labelled]
    auto = [(r, route) for r, route in routed if route != "review"]
    wrong_fields = [(r.wrong_after if after else r.wrong_before) or [] for r in labelled]
    return ErrorEstimate(
        labelled=len(labelled),
        straight_through=len(auto),
        wrong_straight_through=sum(
            1 for r, route in auto if route != r.label or (r.wrong_after if after else r.wrong_before)
        ),
        field_wrong=sum(1 for w in wrong_fields if w),
    )


def build_report(*, replay_id: str, rows: list[ShadowRow], candidate: dict[str, str]) -> ShadowReport:
    ok = [r for r in rows if r.error is None]
    n = len(rows)
    return ShadowReport(
        replay_id=replay_id,
        candidate=candidate,
        documents=n,
        failed=n - len(ok),
        straight_through_before=sum(r.before != "review" for r in rows) / n if n else 0.0,
        straight_through_after=sum(r.after != "review" for r in ok) / n if n else 0.0,
        error_before=_estimate(rows, after=False),
        error_after=_estimate(ok, after=True),
        cost_usd=round(sum(r.cost_usd for r in rows), 6),
        decisions_changed=[r for r in ok if r.before != r.after],
        fields_changed=[r for r in ok if r.field_changes],
        rows=rows,
    )
