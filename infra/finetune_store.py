"""`finetune_jobs` rows for `feedback.finetune_jobs.JobStore` (synchronous, for the CLI)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from infra.db.tables import FinetuneJobRow
from schemas.finetune import JobRecord


def _utc(when: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; the rows are always written in UTC
    return when.replace(tzinfo=UTC) if when and not when.tzinfo else when


def _record(row: FinetuneJobRow) -> JobRecord:
    data = row.model_dump()
    data["created_at"] = _utc(row.created_at)
    data["finished_at"] = _utc(row.finished_at)
    return JobRecord.model_validate(data)


class SqlJobStore:
    def __init__(self, *, engine: Engine) -> None:
        self._engine = engine

    def add(self, record: JobRecord) -> None:
        with Session(self._engine) as s:
            s.add(FinetuneJobRow.model_validate(record.model_dump()))
            s.commit()

    def get(self, job_id: str) -> JobRecord | None:
        with Session(self._engine) as s:
            row = s.get(FinetuneJobRow, job_id)
            return _record(row) if row else None

    def save(self, record: JobRecord) -> None:
        with Session(self._engine) as s:
            row = s.get(FinetuneJobRow, record.job_id)
            if row is None:
                s.add(FinetuneJobRow.model_validate(record.model_dump()))
            else:
                for name, value in record.model_dump(exclude={"job_id", "created_at"}).items():
                    setattr(row, name, value)
                row.updated_at = datetime.now(UTC)
                s.add(row)
            s.commit()

    def recent(self, *, limit: int = 50) -> list[JobRecord]:
        with Session(self._engine) as s:
            rows = s.exec(select(FinetuneJobRow).order_by(col(FinetuneJobRow.created_at).desc()).limit(limit))
            return [_record(r) for r in rows]
