"""What happened: counts of outcomes, throughput and latency, read from the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.table import Table
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from infra.db.tables import (
    DeadLetterRow,
    DecisionHistoryRow,
    DecisionRow,
    DocumentRow,
    IngestLedger,
    OutboxRow,
    ReviewTaskRow,
)


@dataclass(frozen=True)
class RunSummary:
    accepted: int
    approved: int
    rejected: int
    review: int
    human_decided: int
    deadlettered: int
    duplicates: int
    seconds: float
    latencies_ms: list[float]
    """producer timestamp → outcome stored: includes waiting in the topic behind a backlog"""
    processing_ms: list[float]
    """consumed → outcome stored: the worker's own time per document"""
    undeliverable: int = 0
    """outgoing messages the broker can never accept (outbox rows marked failed)"""

    @property
    def outcomes(self) -> int:
        """Accepted documents with a decision or a review task, plus dead letters."""
        return self.approved + self.rejected + self.review + self.human_decided + self.deadlettered

    @property
    def throughput(self) -> float:
        return self.outcomes / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float, *, processing: bool = False) -> float | None:
        values = self.processing_ms if processing else self.latencies_ms
        if not values:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _first_outcomes(s: Session) -> dict[str, datetime]:
    """When each document first had an outcome (auto decision or review task)."""
    first: dict[str, datetime] = {}
    rows = list(s.execute(select(col(DecisionRow.document_id), col(DecisionRow.created_at))))
    rows += list(s.execute(select(col(ReviewTaskRow.document_id), col(ReviewTaskRow.created_at))))
    # a live replay moved the decision it replaced here: the first outcome is still that one
    rows += list(s.execute(select(col(DecisionHistoryRow.document_id), col(DecisionHistoryRow.decided_at))))
    for doc_id, t in rows:
        t = _aware(t)
        if doc_id not in first or t < first[doc_id]:
            first[doc_id] = t
    return first


def collect_summary(engine: Engine) -> RunSummary:
    with Session(engine) as s:

        def count(*where: object, table: type = DecisionRow) -> int:
            q = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
            return int(s.execute(q).scalar_one())

        accepted = {
            r.document_id: (r.timestamp_ms, _aware(r.received_at))
            for r in s.execute(
                select(
                    col(IngestLedger.document_id),
                    col(IngestLedger.timestamp_ms),
                    col(IngestLedger.received_at),
                ).where(col(IngestLedger.status) == "accepted", col(IngestLedger.detail).is_(None))
            )
        }
        first = _first_outcomes(s)
        e2e, processing = [], []
        for doc_id, done in first.items():
            if doc_id in accepted:
                produced_ms, consumed = accepted[doc_id]
                processing.append((done - consumed).total_seconds() * 1000)
                if produced_ms:
                    e2e.append(done.timestamp() * 1000 - produced_ms)
        # Throughput from the first consumed document: worker start-up is not counted.
        start = min((c for _, c in accepted.values()), default=None)
        last = max(first.values(), default=None)
        return RunSummary(
            accepted=count(table=DocumentRow),
            approved=count(DecisionRow.decided_by == "auto", DecisionRow.outcome == "approve"),
            rejected=count(DecisionRow.decided_by == "auto", DecisionRow.outcome == "reject"),
            review=count(ReviewTaskRow.status == "open", table=ReviewTaskRow),
            human_decided=count(DecisionRow.decided_by == "human"),
            deadlettered=count(table=DeadLetterRow),
            duplicates=count(IngestLedger.status == "duplicate", table=IngestLedger),
            seconds=(last - start).total_seconds() if (last and start) else 0.0,
            latencies_ms=e2e,
            processing_ms=processing,
            undeliverable=count(col(OutboxRow.failed_at).is_not(None), table=OutboxRow),
        )


def summary_table(summary: RunSummary, *, published: int | None = None) -> Table:
    t = Table(title="autoclerk run summary", show_header=True, header_style="bold")
    t.add_column("measure")
    t.add_column("value", justify="right")
    if published is not None:
        t.add_row("documents published", str(published))
    n = max(summary.accepted, 1)
    t.add_row("documents processed", str(summary.outcomes))
    t.add_row("approved straight through", f"{summary.approved}  ({summary.approved / n:.0%})")
    t.add_row("rejected straight through", f"{summary.rejected}  ({summary.rejected / n:.0%})")
    t.add_row("sent to review (open)", str(summary.review))
    t.add_row("decided by reviewers", str(summary.human_decided))
    t.add_row("dead-lettered", str(summary.deadlettered))
    t.add_row("duplicates ignored", str(summary.duplicates))
    if summary.undeliverable:
        t.add_row("messages that cannot be sent (see outbox.failure)", str(summary.undeliverable))
    t.add_row("throughput", f"{summary.throughput:.1f} docs/s")
    for label, q, processing in (
        ("latency p50 (published → outcome)", 0.50, False),
        ("latency p99 (published → outcome)", 0.99, False),
        ("processing p50 (consumed → outcome)", 0.50, True),
        ("processing p99 (consumed → outcome)", 0.99, True),
    ):
        v = summary.percentile(q, processing=processing)
        t.add_row(label, "n/a" if v is None else f"{v:.0f} ms")
    return t
