"""What happened: counts of outcomes, throughput and latency, read from the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.table import Table
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from infra.db.tables import DeadLetterRow, DecisionRow, DocumentRow, IngestLedger, ReviewTaskRow


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

    @property
    def outcomes(self) -> int:
        """Accepted documents with a decision or a review task, plus dead letters."""
        return self.approved + self.rejected + self.review + self.human_decided + self.deadlettered

    @property
    def throughput(self) -> float:
        return self.outcomes / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def collect_summary(engine: Engine) -> RunSummary:
    with Session(engine) as s:

        def count(*where: object, table: type = DecisionRow) -> int:
            return int(s.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]

        sent = {
            r.document_id: r.timestamp_ms
            for r in s.execute(
                select(IngestLedger.document_id, IngestLedger.timestamp_ms).where(
                    IngestLedger.status == "accepted",
                    IngestLedger.detail.is_(None),  # type: ignore[union-attr]
                )
            )
        }
        done: list[tuple[str, datetime]] = [
            (d, _aware(t)) for d, t in s.execute(select(DecisionRow.document_id, DecisionRow.created_at))
        ]
        done += [
            (d, _aware(t)) for d, t in s.execute(select(ReviewTaskRow.document_id, ReviewTaskRow.created_at))
        ]
        first_seen = s.execute(select(func.min(IngestLedger.received_at))).scalar()
        last = max((t for _, t in done), default=None)
        latencies = []
        first_outcome: dict[str, datetime] = {}
        for doc_id, t in done:
            if doc_id not in first_outcome or t < first_outcome[doc_id]:
                first_outcome[doc_id] = t
        for doc_id, t in first_outcome.items():
            ts = sent.get(doc_id)
            if ts is not None:
                latencies.append(t.timestamp() * 1000 - ts)
        stamps = [v for v in sent.values() if v]
        if stamps:  # producer time: latency and throughput include the broker hop
            start: datetime | None = datetime.fromtimestamp(min(stamps) / 1000, tz=UTC)
        else:
            start = _aware(first_seen) if first_seen else None
        return RunSummary(
            accepted=count(table=DocumentRow),
            approved=count(DecisionRow.decided_by == "auto", DecisionRow.outcome == "approve"),
            rejected=count(DecisionRow.decided_by == "auto", DecisionRow.outcome == "reject"),
            review=count(ReviewTaskRow.status == "open", table=ReviewTaskRow),
            human_decided=count(DecisionRow.decided_by == "human"),
            deadlettered=count(table=DeadLetterRow),
            duplicates=count(IngestLedger.status == "duplicate", table=IngestLedger),
            seconds=(last - start).total_seconds() if (last and start) else 0.0,
            latencies_ms=latencies,
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
    t.add_row("throughput", f"{summary.throughput:.1f} docs/s")
    for label, q in (("latency p50", 0.50), ("latency p99", 0.99)):
        v = summary.percentile(q)
        t.add_row(label, "n/a" if v is None else f"{v:.0f} ms")
    return t
