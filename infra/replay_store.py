"""The SQL implementation of `agents.replay.ReplayStore`: selection and progress.

The replay's effect on a document (supersede, re-route, close a task) is one
transaction in `infra.replay_apply`; here are the reads that select documents and
load them with their current outcome, and the replay's own rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col, select

from infra.db.tables import (
    DecisionRow,
    DocumentRow,
    ExtractionRow,
    IngestLedger,
    OutboxRow,
    ReplayItemRow,
    ReplayRow,
    ReviewTaskRow,
    utcnow,
)
from infra.feedback_source import document_from_row
from infra.replay_apply import apply_change, mark_done
from infra.store_rows import to_outgoing
from schemas.messages import Outgoing
from schemas.replay import LiveChange, ReplayOptions, ReplaySelection, ReplayTarget
from schemas.scope import vendor_key

I = ReplayItemRow  # noqa: E741


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _naive(when: datetime) -> datetime:
    # the columns hold UTC; compare as the driver stores it
    return when.astimezone(UTC) if when.tzinfo else when


def _codes(reasons: Sequence[Any]) -> list[str]:
    return [str(r.get("code", "")) if isinstance(r, dict) else str(r) for r in reasons]


class SqlReplayStore:
    def __init__(self, *, engine: AsyncEngine) -> None:
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def ledger_offsets(
        self, *, topic: str, partition: int, epoch: str | None
    ) -> tuple[int, int] | None:
        async with self._session() as s:
            epoch = epoch if epoch is not None else await self._newest_epoch(s, topic, partition)
            q = select(func.min(IngestLedger.offset), func.max(IngestLedger.offset)).where(
                col(IngestLedger.topic) == topic,
                col(IngestLedger.partition) == partition,
                col(IngestLedger.epoch) == epoch,
            )
            low, high = (await s.execute(q)).one()
        return None if low is None else (int(low), int(high))

    async def _newest_epoch(self, s: AsyncSession, topic: str, partition: int) -> str | None:
        q = (
            select(IngestLedger.epoch)
            .where(col(IngestLedger.topic) == topic, col(IngestLedger.partition) == partition)
            .order_by(col(IngestLedger.id).desc())
            .limit(1)
        )
        return (await s.execute(q)).scalar()

    async def select(self, *, selection: ReplaySelection) -> list[str]:
        sel = selection
        q = select(DocumentRow.document_id, DocumentRow.received_at)
        if sel.since is not None:
            q = q.where(col(DocumentRow.received_at) >= _naive(sel.since))
        if sel.until is not None:
            q = q.where(col(DocumentRow.received_at) < _naive(sel.until))
        if sel.document_ids:
            q = q.where(col(DocumentRow.document_id).in_(sel.document_ids))
        if sel.kind is not None:
            q = q.where(col(DocumentRow.kind) == sel.kind)
        if sel.outcome in ("approve", "reject"):
            q = q.join(DecisionRow, col(DecisionRow.document_id) == col(DocumentRow.document_id)).where(
                col(DecisionRow.outcome) == sel.outcome
            )
        elif sel.outcome == "review":
            q = q.join(ReviewTaskRow, col(ReviewTaskRow.document_id) == col(DocumentRow.document_id)).where(
                col(ReviewTaskRow.status) == "open"
            )
        async with self._session() as s:
            if sel.by_offsets():
                q = await self._in_offsets(s, q, sel)
            rows = list(
                (
                    await s.execute(q.order_by(col(DocumentRow.received_at), col(DocumentRow.document_id)))
                ).all()
            )
            ids = [doc for doc, _ in rows]
            if sel.vendor is not None:
                ids = await self._of_vendor(s, ids, vendor_key(sel.vendor))
        return ids

    async def _in_offsets(self, s: AsyncSession, q: Any, sel: ReplaySelection) -> Any:
        assert sel.topic is not None and sel.partition is not None
        epoch = sel.epoch if sel.epoch is not None else await self._newest_epoch(s, sel.topic, sel.partition)
        ledger = select(IngestLedger.document_id).where(
            col(IngestLedger.topic) == sel.topic,
            col(IngestLedger.partition) == sel.partition,
            col(IngestLedger.epoch) == epoch,
            col(IngestLedger.status) == "accepted",
            col(IngestLedger.document_id).is_not(None),
        )
        if sel.from_offset is not None:
            ledger = ledger.where(col(IngestLedger.offset) >= sel.from_offset)
        if sel.to_offset is not None:
            ledger = ledger.where(col(IngestLedger.offset) <= sel.to_offset)
        return q.where(col(DocumentRow.document_id).in_(ledger))

    async def _of_vendor(self, s: AsyncSession, ids: list[str], key: str | None) -> list[str]:
        # The vendor is inside the extraction's JSON, whose operators differ between
        # SQLite and PostgreSQL: compare here, on the already narrowed set.
        q = select(ExtractionRow.document_id, ExtractionRow.result).where(
            col(ExtractionRow.document_id).in_(ids)
        )
        found = set()
        for doc, result in (await s.execute(q)).all():
            field = (result.get("fields") or {}).get("vendor_name") or {}
            if vendor_key(field.get("value")) == key:
                found.add(doc)
        return [d for d in ids if d in found]

    async def create(
        self, *, replay_id: str, mode: str, selection: ReplaySelection, options: ReplayOptions, ids: list[str]
    ) -> None:
        try:
            async with self._session() as s, s.begin():
                s.add(
                    ReplayRow(
                        replay_id=replay_id,
                        mode=mode,
                        selection=selection.model_dump(mode="json"),
                        options=options.model_dump(mode="json"),
                    )
                )
                await s.flush()
                s.add_all(I(replay_id=replay_id, document_id=d, seq=i + 1) for i, d in enumerate(ids))
        except IntegrityError:
            pass  # created by an earlier run: resuming never re-selects

    async def replay(self, *, replay_id: str) -> tuple[str, ReplaySelection, ReplayOptions, str] | None:
        async with self._session() as s:
            row = await s.get(ReplayRow, replay_id)
        if row is None:
            return None
        return (
            row.mode,
            ReplaySelection.model_validate(row.selection),
            ReplayOptions.model_validate(row.options),
            row.status,
        )

    async def set_status(self, *, replay_id: str, status: str) -> None:
        async with self._session() as s, s.begin():
            q = update(ReplayRow).where(col(ReplayRow.replay_id) == replay_id)
            await s.execute(q.values(status=status, updated_at=utcnow()))

    async def counts(self, *, replay_id: str) -> tuple[int, int]:
        q = select(func.count(), func.count(col(I.done_at))).where(col(I.replay_id) == replay_id)
        async with self._session() as s:
            total, done = (await s.execute(q)).one()
        return int(total), int(done)

    async def items(self, *, replay_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
        q = (
            select(I.document_id, I.result, I.detail)
            .where(col(I.replay_id) == replay_id)
            .order_by(col(I.seq))
        )
        async with self._session() as s:
            return [(d, r, detail) for d, r, detail in (await s.execute(q)).all()]

    async def pending(self, *, replay_id: str, after_seq: int, limit: int) -> list[tuple[int, ReplayTarget]]:
        q = (
            select(I.seq, DocumentRow)
            .join(DocumentRow, col(DocumentRow.document_id) == col(I.document_id))
            .where(col(I.replay_id) == replay_id, col(I.done_at).is_(None), col(I.seq) > after_seq)
            .order_by(col(I.seq))
            .limit(limit)
        )
        async with self._session() as s:
            rows = list((await s.execute(q)).all())
            return [(seq, await self._target(s, doc)) for seq, doc in rows]

    async def _target(self, s: AsyncSession, doc: DocumentRow) -> ReplayTarget:
        doc_id = doc.document_id
        decision = await s.get(DecisionRow, doc_id)
        tasks = list(
            (
                await s.execute(
                    select(ReviewTaskRow)
                    .where(col(ReviewTaskRow.document_id) == doc_id)
                    .order_by(col(ReviewTaskRow.created_at).desc())
                )
            ).scalars()
        )
        task = next((t for t in tasks if t.status == "open"), None)
        extraction = await s.get(ExtractionRow, doc_id)
        return ReplayTarget(
            document_id=doc_id,
            document=document_from_row(doc),
            received_at=_utc(doc.received_at) or doc.received_at,
            correlation_id=doc.correlation_id or doc.event_id,
            status=doc.status,
            outcome=decision.outcome if decision else ("review" if task else None),  # type: ignore[arg-type]
            decided_by=decision.decided_by if decision else None,  # type: ignore[arg-type]
            decided_at=_utc(decision.created_at) if decision else None,
            decision_fields=decision.fields if decision else {},
            decision_reasons=_codes(decision.reasons) if decision else [],
            open_task_id=task.task_id if task else None,
            open_task_assignee=task.assignee if task else None,
            open_task_reasons=_codes(task.reasons) if task else [],
            open_task_thread=(task.thread_id or task.document_id) if task else None,
            task_created_at=_utc(task.created_at) if task else None,
            queue=tasks[0].queue if tasks else None,
            had_task=bool(tasks),
            extraction=extraction.result if extraction else None,
        )

    async def finish(self, *, replay_id: str, document_id: str, result: str, detail: dict[str, Any]) -> bool:
        async with self._session() as s, s.begin():
            return await mark_done(
                s, replay_id=replay_id, document_id=document_id, result=result, detail=detail
            )

    async def apply(self, *, change: LiveChange) -> list[Outgoing] | None:
        async with self._session() as s:
            async with s.begin():
                keys = await apply_change(s, change=change)
            if keys is None:
                return None
            return await self._outbox(s, keys)

    async def _outbox(self, s: AsyncSession, keys: list[str]) -> list[Outgoing]:
        if not keys:
            return []
        q = select(OutboxRow).where(col(OutboxRow.dedupe_key).in_(keys), col(OutboxRow.emitted_at).is_(None))
        return [to_outgoing(r) for r in (await s.execute(q.order_by(col(OutboxRow.id)))).scalars()]

    async def unemitted(self, *, prefix: str) -> list[Outgoing]:
        q = (
            select(OutboxRow)
            .where(
                col(OutboxRow.emitted_at).is_(None),
                col(OutboxRow.failed_at).is_(None),
                col(OutboxRow.dedupe_key).like(f"{prefix}%"),
            )
            .order_by(col(OutboxRow.id))
        )
        async with self._session() as s:
            return [to_outgoing(r) for r in (await s.execute(q)).scalars()]

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        if outbox_ids:
            async with self._session() as s, s.begin():
                q = update(OutboxRow).where(col(OutboxRow.id).in_(outbox_ids)).values(emitted_at=utcnow())
                await s.execute(q)
