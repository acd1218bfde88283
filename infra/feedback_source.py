"""Read completed reviews back out of the store, for `feedback.export`.

The worker stores a completion as the task row (status, reviewer, time), one
`corrections` row per changed field, beside the document and the extraction it
reviewed. This adapter joins them into `schemas.feedback.ReviewedDocument`s;
straight-through documents have no task and are never read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select

from infra.db.tables import (
    CorrectionRow,
    DocumentRow,
    ExtractionRow,
    ReviewOpinionRow,
    ReviewSubmissionRow,
    ReviewTaskRow,
)
from schemas.document import Document, Line, PageSize
from schemas.events import FieldCorrection
from schemas.feedback import ReviewedDocument
from schemas.fields import Extraction

PAGE = 200  # tasks per query: bounded memory on a large review history


def document_from_row(row: DocumentRow) -> Document:
    """The document as the extractor saw it: `text` holds every line, `layout` the
    lines that had boxes (in order), `pages` their page sizes."""
    boxed = [Line.model_validate(ln) for ln in row.layout]
    lines: list[Line] = []
    for text in row.text.split("\n"):
        # layout is an ordered subsequence of the lines: take its next line when it matches
        if boxed and boxed[0].text == text:
            lines.append(boxed.pop(0))
        else:
            lines.append(Line(text=text))
    return Document(
        document_id=row.document_id,
        kind=row.kind,  # type: ignore[arg-type]
        claim_type=row.claim_type,  # type: ignore[arg-type]
        lines=lines,
        pages=[PageSize.model_validate(p) for p in row.pages or []],
        metadata={str(k): str(v) for k, v in (row.doc_metadata or {}).items()},
    )


def _utc(when: datetime) -> datetime:
    # the columns compare in UTC; a time given without a zone is taken as UTC
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


class SqlReviewedSource:
    """Implements `feedback.export.ReviewedSource` over the SQL store."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def reviewed(self, *, since: datetime | None = None) -> AsyncIterator[ReviewedDocument]:
        """Every completed review (completed at or after `since`), oldest first."""
        after: tuple[Any, str] | None = None
        while True:
            tasks = await self._tasks(since=since, after=after)
            if not tasks:
                return
            for item in await self._assemble(tasks):
                yield item
            after = (tasks[-1].completed_at, tasks[-1].task_id)

    async def _tasks(self, *, since: datetime | None, after: tuple[Any, str] | None) -> list[ReviewTaskRow]:
        q = select(ReviewTaskRow).where(
            col(ReviewTaskRow.status) == "completed", col(ReviewTaskRow.completed_at).is_not(None)
        )
        if since is not None:
            q = q.where(col(ReviewTaskRow.completed_at) >= _utc(since))
        if after is not None:  # keyset paging: stable while new reviews arrive
            at, task_id = after[0] and _utc(after[0]), after[1]
            q = q.where(
                (col(ReviewTaskRow.completed_at) > at)
                | ((col(ReviewTaskRow.completed_at) == at) & (col(ReviewTaskRow.task_id) > task_id))
            )
        q = q.order_by(col(ReviewTaskRow.completed_at), col(ReviewTaskRow.task_id)).limit(PAGE)
        async with self._session() as s:
            return list((await s.execute(q)).scalars())

    async def _assemble(self, tasks: Sequence[ReviewTaskRow]) -> list[ReviewedDocument]:
        ids = [t.document_id for t in tasks]
        async with self._session() as s:
            docs = {
                r.document_id: r
                for r in (
                    await s.execute(select(DocumentRow).where(col(DocumentRow.document_id).in_(ids)))
                ).scalars()
            }
            extractions = {
                r.document_id: r
                for r in (
                    await s.execute(select(ExtractionRow).where(col(ExtractionRow.document_id).in_(ids)))
                ).scalars()
            }
            # The review service's record of the answer: what kind of reject it was. A task
            # answered by other means (an event published by hand) has none.
            kinds = await s.execute(
                select(col(ReviewSubmissionRow.task_id), col(ReviewSubmissionRow.reject_kind)).where(
                    col(ReviewSubmissionRow.task_id).in_([t.task_id for t in tasks])
                )
            )
            reject_kind = {task_id: kind for task_id, kind in kinds.all()}
            # A task two reviewers answered keeps each answer in review_opinions; only the
            # final one (the agreement, or the lead's reconciliation) reached the task row
            # and `corrections`, which is what we read: the opinions only count the rounds.
            rounds_q = (
                select(col(ReviewOpinionRow.task_id), func.max(col(ReviewOpinionRow.round)))
                .where(col(ReviewOpinionRow.task_id).in_([t.task_id for t in tasks]))
                .group_by(col(ReviewOpinionRow.task_id))
            )
            rounds = {task_id: int(n) for task_id, n in (await s.execute(rounds_q)).all()}
            q = select(CorrectionRow).where(col(CorrectionRow.task_id).in_([t.task_id for t in tasks]))
            corrections: dict[str, list[FieldCorrection]] = {}
            for c in (await s.execute(q.order_by(col(CorrectionRow.id)))).scalars():
                corrections.setdefault(c.task_id, []).append(
                    FieldCorrection(
                        field=c.field,
                        old_value=c.old_value,
                        new_value=c.new_value,
                        old_confidence=c.old_confidence,
                    )
                )
        out = []
        for t in tasks:
            doc, extraction = docs.get(t.document_id), extractions.get(t.document_id)
            if doc is None or extraction is None:
                continue  # a task is stored with both in one transaction; nothing to label without them
            completed = t.completed_at
            out.append(
                ReviewedDocument(
                    document=document_from_row(doc),
                    extraction=Extraction.model_validate(extraction.result),
                    corrections=corrections.get(t.task_id, []),
                    task_id=t.task_id,
                    reviewer=t.reviewer or "",
                    outcome=t.outcome or "",
                    reject_kind=reject_kind.get(t.task_id),
                    review_rounds=rounds.get(t.task_id, 1),
                    reviewed_at=completed.replace(tzinfo=UTC)
                    if completed and not completed.tzinfo
                    else completed,
                )
            )
        return out
