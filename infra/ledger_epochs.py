"""What the ingest ledger knows about broker epochs (see `infra.kafka.broker_epoch`).

A broker that comes back empty gets a new epoch marker. The ledger then has rows,
none of them in the new epoch: whatever the old broker held and we had not consumed
yet is gone, and only upstream can send it again. These counts say how much we had.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from infra.db.tables import IngestLedger

__all__ = ["LedgerEpochs", "ledger_epochs"]


@dataclass(frozen=True)
class LedgerEpochs:
    rows: int
    """Ledger rows in all epochs."""
    rows_in_epoch: int
    """Rows consumed in the epoch asked about."""
    last_epoch: str | None
    """The epoch of the newest row (None: empty ledger)."""
    last_epoch_accepted: int
    """Documents accepted in `last_epoch`."""
    last_epoch_max_offset: int | None
    """The highest offset consumed in `last_epoch` (any input topic)."""

    @property
    def broker_came_back_empty(self) -> bool:
        return self.rows > 0 and self.rows_in_epoch == 0


def ledger_epochs(*, engine: Engine, epoch: str) -> LedgerEpochs:
    with Session(engine) as s:
        rows = s.execute(select(func.count()).select_from(IngestLedger)).scalar_one()
        in_epoch = s.execute(
            select(func.count()).select_from(IngestLedger).where(col(IngestLedger.epoch) == epoch)
        ).scalar_one()
        last = s.execute(
            select(col(IngestLedger.epoch)).order_by(col(IngestLedger.id).desc()).limit(1)
        ).scalar_one_or_none()
        accepted, max_offset = 0, None
        if last is not None:
            in_last = col(IngestLedger.epoch) == last
            accepted = s.execute(
                select(func.count())
                .select_from(IngestLedger)
                .where(in_last, col(IngestLedger.status) == "accepted")
            ).scalar_one()
            max_offset = s.execute(select(func.max(IngestLedger.offset)).where(in_last)).scalar_one()
    return LedgerEpochs(
        rows=int(rows),
        rows_in_epoch=int(in_epoch),
        last_epoch=last,
        last_epoch_accepted=int(accepted),
        last_epoch_max_offset=None if max_offset is None else int(max_offset),
    )
