"""The SQL implementation of `agents.ports.RetryStore`: re-extraction after an LLM outage.

A machine result may replace a review task only while no person has touched it. Each
transition is one transaction that starts by locking the task row with a conditional
no-op UPDATE (open, unleased): on PostgreSQL that row lock is what a lease (an UPDATE
of the row) and a submission (review.submission locks the row the same way first) wait for;
on SQLite the UPDATE takes the database's single write lock. Every check after it
therefore reads what a reviewer committed before, and no reviewer can commit until
this transaction ends. Whoever comes second sees the other's result: a reviewer finds
the task closed or re-routed, the retry finds the task taken and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, not_, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col, select

from infra.db.tables import (
    BusinessKeyRow,
    DocumentRow,
    ExtractionRow,
    OutboxRow,
    ReviewEventRow,
    ReviewOpinionRow,
    ReviewSubmissionRow,
    ReviewTaskRow,
    RuleResultRow,
    TriageRow,
    utcnow,
)
from infra.feedback_source import document_from_row
from infra.store_rows import add_results, decision_row, outbox_row, scope_columns, to_outgoing
from schemas.events import DocumentDecided, ReviewRequested
from schemas.messages import Outgoing
from schemas.retry import RetryAudit, RetryCandidate

T = ReviewTaskRow
SYSTEM_ACTORS = "system:%"
"""Audit actors that are not people: their events do not make a task touched."""


def _untouched() -> ColumnElement[bool]:
    """No person has leased, answered or acted on the task (a released lease counts)."""
    return and_(
        col(T.status) == "open",
        col(T.assignee).is_(None),
        ~exists().where(col(ReviewSubmissionRow.task_id) == col(T.task_id)),
        ~exists().where(col(ReviewOpinionRow.task_id) == col(T.task_id)),
        ~exists().where(
            col(ReviewEventRow.task_id) == col(T.task_id), not_(col(ReviewEventRow.actor).like(SYSTEM_ACTORS))
        ),
    )


def _failed_with(prefix: str) -> ColumnElement[bool]:
    return exists().where(
        col(ExtractionRow.document_id) == col(T.document_id), col(ExtractionRow.failure).like(f"{prefix}%")
    )


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _event(task_id: str, document_id: str, audit: RetryAudit) -> ReviewEventRow:
    return ReviewEventRow(
        task_id=task_id, document_id=document_id, actor=audit.actor, action=audit.action, detail=audit.detail
    )


class SqlRetryStore:
    def __init__(self, *, engine: AsyncEngine) -> None:
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def retry_candidates(
        self, *, failure_prefix: str, since: datetime, limit: int
    ) -> list[RetryCandidate]:
        q = (
            select(T, DocumentRow)
            .join(DocumentRow, col(DocumentRow.document_id) == col(T.document_id))
            .where(_untouched(), _failed_with(failure_prefix), col(T.created_at) >= since)
            .order_by(col(T.created_at), col(T.task_id))
            .limit(limit)
        )
        async with self._session() as s:
            rows = (await s.execute(q)).all()
            failures = await self._failures(s, [t.document_id for t, _ in rows])
        return [
            RetryCandidate(
                task_id=t.task_id,
                document_id=t.document_id,
                created_at=_utc(t.created_at),
                received_at=_utc(d.received_at),
                thread_id=t.thread_id or t.document_id,
                correlation_id=d.correlation_id or d.event_id,
                failure=failures.get(t.document_id, ""),
                document=document_from_row(d),
            )
            for t, d in rows
        ]

    async def _failures(self, s: AsyncSession, ids: list[str]) -> dict[str, str]:
        q = select(ExtractionRow.document_id, ExtractionRow.failure).where(
            col(ExtractionRow.document_id).in_(ids)
        )
        return {doc: failure or "" for doc, failure in (await s.execute(q)).all()}

    async def _lock_candidate(
        self, s: AsyncSession, *, task_id: str, failure_prefix: str
    ) -> ReviewTaskRow | None:
        """Lock the task row, then check it is still a candidate; None if not."""
        locked = await s.execute(
            update(T)
            .where(col(T.task_id) == task_id, col(T.status) == "open", col(T.assignee).is_(None))
            .values(status=col(T.status))
        )
        if locked.rowcount != 1:  # type: ignore[attr-defined]
            return None
        # A separate statement after the lock: on PostgreSQL it reads what committed
        # while we waited for the row (a subquery in the UPDATE would not).
        q = select(T).where(col(T.task_id) == task_id, _untouched(), _failed_with(failure_prefix))
        return (await s.execute(q.execution_options(populate_existing=True))).scalars().first()

    async def _replace_results(self, s: AsyncSession, document_id: str, state: dict[str, Any]) -> None:
        for table in (TriageRow, ExtractionRow, RuleResultRow, BusinessKeyRow):
            await s.execute(delete(table).where(col(table.document_id) == document_id))  # type: ignore[attr-defined]
        add_results(s, document_id, state)

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
        doc_id = decision.document_id
        async with self._session() as s:
            async with s.begin():
                task = await self._lock_candidate(s, task_id=task_id, failure_prefix=failure_prefix)
                if task is None or task.document_id != doc_id:
                    return None
                await self._replace_results(s, doc_id, state)
                doc = await s.get(DocumentRow, doc_id)
                assert doc is not None  # the task's foreign key
                doc.status = "decided"
                s.add(decision_row(decision, doc.received_at).row())
                task.status, task.completed_at = "superseded", utcnow()
                s.add(_event(task_id, doc_id, audit))
                s.add(outbox_row(message, dedupe_key=f"llm-retry:decided:{doc_id}", document_id=doc_id).row())
            return await self._outbox(s, f"llm-retry:decided:{doc_id}")

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
        doc_id, key = task.document_id, f"llm-retry:review:{task.document_id}:{thread_id}"
        async with self._session() as s:
            async with s.begin():
                row = await self._lock_candidate(s, task_id=task.task_id, failure_prefix=failure_prefix)
                if row is None or row.document_id != doc_id:
                    return None
                await self._replace_results(s, doc_id, state)
                row.reasons = [r.model_dump(mode="json") for r in task.reasons]
                row.primary_reason = task.reasons[0].code if task.reasons else "unspecified"
                row.priority, row.due_at, row.thread_id = task.priority, task.due_at, thread_id
                for name, value in scope_columns(task).items():  # the new extraction's vendor, amount
                    setattr(row, name, value)
                s.add(_event(task.task_id, doc_id, audit))
                s.add(outbox_row(message, dedupe_key=key, document_id=doc_id).row())
            return await self._outbox(s, key)

    async def record_retry(self, *, task_id: str, document_id: str, audit: RetryAudit) -> None:
        async with self._session() as s, s.begin():
            s.add(_event(task_id, document_id, audit))

    async def _outbox(self, s: AsyncSession, key: str) -> list[Outgoing]:
        q = select(OutboxRow).where(col(OutboxRow.dedupe_key) == key, col(OutboxRow.emitted_at).is_(None))
        return [to_outgoing(r) for r in (await s.execute(q)).scalars()]

    async def unemitted(self, *, prefix: str, older_than: datetime, limit: int) -> list[Outgoing]:
        q = (
            select(OutboxRow)
            .where(
                col(OutboxRow.emitted_at).is_(None),
                col(OutboxRow.dedupe_key).like(f"{prefix}%"),
                col(OutboxRow.created_at) <= older_than,
            )
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        async with self._session() as s:
            return [to_outgoing(r) for r in (await s.execute(q)).scalars()]

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        if outbox_ids:
            async with self._session() as s, s.begin():
                q = update(OutboxRow).where(col(OutboxRow.id).in_(outbox_ids)).values(emitted_at=utcnow())
                await s.execute(q)
