"""A live replay's effect on one document, as one transaction.

It starts by claiming the replay item (a conditional UPDATE of `replay_items`: an
earlier run that committed makes this one a no-op, and on PostgreSQL the row lock
serialises two runs of the same replay), then re-reads the document's outcome: if it
is no longer the one the run started from (a reviewer answered, a worker decided),
the run is void and the item is marked `skipped:changed`. Otherwise, in the same
transaction: the replaced decision moves to `decision_history` and the new one links
to it (`decisions.supersedes_id`), an open review task is closed (or re-routed) with
the reason in its audit, results are replaced, and the outbox gets the messages.
`decisions` and open `review_tasks` keep exactly one current outcome per document.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from infra.db.tables import (
    BusinessKeyRow,
    DecisionHistoryRow,
    DecisionRow,
    DocumentRow,
    ExtractionRow,
    ReplayItemRow,
    ReviewEventRow,
    ReviewTaskRow,
    RuleResultRow,
    TriageRow,
    utcnow,
)
from infra.store_rows import add_results, decision_row, outbox_row, scope_columns
from schemas.replay import LiveChange, ReplayTarget

ACTOR = "system:replay"
I = ReplayItemRow  # noqa: E741


async def mark_done(
    s: AsyncSession, *, replay_id: str, document_id: str, result: str, detail: dict[str, Any]
) -> bool:
    """Claim the item for this transaction; False if an earlier run finished it."""
    q = (
        update(I)
        .where(col(I.replay_id) == replay_id, col(I.document_id) == document_id, col(I.done_at).is_(None))
        .values(done_at=utcnow(), result=result, detail=detail)
    )
    return bool((await s.execute(q)).rowcount == 1)  # type: ignore[attr-defined]


async def _still(s: AsyncSession, t: ReplayTarget) -> tuple[DecisionRow | None, ReviewTaskRow | None] | None:
    """The current decision and open task, if they are still what the run started from."""
    decision = await s.get(DecisionRow, t.document_id, populate_existing=True)
    q = select(ReviewTaskRow).where(
        col(ReviewTaskRow.document_id) == t.document_id, col(ReviewTaskRow.status) == "open"
    )
    task = (await s.execute(q.execution_options(populate_existing=True))).scalars().first()
    same_decision = (decision is None and t.decided_by is None) or (
        decision is not None and decision.decided_by == t.decided_by and decision.outcome == t.outcome
    )
    same_task = (task is None and t.open_task_id is None) or (
        task is not None and task.task_id == t.open_task_id and task.assignee is None
    )
    return (decision, task) if same_decision and same_task else None


async def apply_change(s: AsyncSession, *, change: LiveChange) -> list[str] | None:
    """The outbox keys written, [] when void, None when the item was done before."""
    t, doc_id = change.target, change.target.document_id
    detail: dict[str, Any] = {"reason": change.reason, "thread": change.thread_id}
    result = "superseded" if change.decision is not None or t.open_task_id is None else "rerouted"
    if not await mark_done(s, replay_id=change.replay_id, document_id=doc_id, result=result, detail=detail):
        return None
    if t.open_task_id is not None:  # lock the task row first, as a reviewer's lease does
        await s.execute(
            update(ReviewTaskRow)
            .where(col(ReviewTaskRow.task_id) == t.open_task_id)
            .values(status=col(ReviewTaskRow.status))
        )
    current = await _still(s, t)
    if current is None:
        await s.execute(
            update(I)
            .where(col(I.replay_id) == change.replay_id, col(I.document_id) == doc_id)
            .values(result="skipped:changed")
        )
        return []
    decision, task = current
    history_id = await _archive(s, decision, change.replay_id) if decision is not None else None
    for table in (TriageRow, ExtractionRow, RuleResultRow, BusinessKeyRow):
        await s.execute(delete(table).where(col(table.document_id) == doc_id))  # type: ignore[attr-defined]
    add_results(s, doc_id, change.state)
    doc = await s.get(DocumentRow, doc_id)
    assert doc is not None  # the item's document
    closed = None
    if change.decision is not None:
        if task is not None:
            task.status, task.completed_at = "superseded", utcnow()
            s.add(_event(task, "replay_superseded", change, outcome=change.decision.outcome))
            closed = task.task_id
        row = decision_row(change.decision, doc.received_at).row()
        row.supersedes_id, row.replay_id, row.latency_ms = history_id, change.replay_id, None
        s.add(row)
        doc.status = "decided"
    else:
        assert change.task is not None
        _review(s, task, change)
        doc.status = "review"
    keys = []
    for key, msg in change.messages:
        s.add(outbox_row(msg, dedupe_key=key, document_id=doc_id).row())
        keys.append(key)
    if change.superseded is not None:
        key, msg = change.superseded(history_id, closed)
        s.add(outbox_row(msg, dedupe_key=key, document_id=doc_id).row())
        keys.append(key)
    return keys


def _review(s: AsyncSession, task: ReviewTaskRow | None, change: LiveChange) -> None:
    new = change.task
    assert new is not None
    reasons = [r.model_dump(mode="json") for r in new.reasons]
    primary = new.reasons[0].code if new.reasons else "unspecified"
    if task is not None:  # re-route the open task: it now waits on the replay's thread
        task.reasons, task.primary_reason, task.priority, task.due_at = (
            reasons,
            primary,
            new.priority,
            new.due_at,
        )
        task.thread_id = change.thread_id
        for name, value in scope_columns(new).items():
            setattr(task, name, value)
        s.add(_event(task, "replay_rerouted", change, reasons=[r.code for r in new.reasons]))
        return
    row = ReviewTaskRow(
        task_id=new.task_id,
        document_id=new.document_id,
        kind=new.kind,
        priority=new.priority,
        due_at=new.due_at,
        reasons=reasons,
        primary_reason=primary,
        queue=new.queue,
        thread_id=change.thread_id,
        **scope_columns(new),
    )
    s.add(row)
    s.add(_event(row, "replay_review_opened", change, reasons=[r.code for r in new.reasons]))


async def _archive(s: AsyncSession, d: DecisionRow, replay_id: str) -> int:
    old = DecisionHistoryRow(
        document_id=d.document_id,
        outcome=d.outcome,
        decided_by=d.decided_by,
        reviewer=d.reviewer,
        reasons=d.reasons,
        fields=d.fields,
        model_versions=d.model_versions,
        model_refs=d.model_refs,
        rules_version=d.rules_version,
        decided_at=d.created_at,
        supersedes_id=d.supersedes_id,
        replay_id=d.replay_id,
        superseded_by_replay=replay_id,
    )
    s.add(old)
    await s.delete(d)
    await s.flush()  # the new decision row takes the same primary key
    assert old.id is not None
    return old.id


def _event(task: ReviewTaskRow, action: str, change: LiveChange, **detail: Any) -> ReviewEventRow:
    return ReviewEventRow(
        task_id=task.task_id,
        document_id=task.document_id,
        actor=ACTOR,
        action=action,
        detail={"replay_id": change.replay_id, "reason": change.reason, **detail},
    )
