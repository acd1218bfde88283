"""Load reference data (policies, vendors, purchase orders) from CSV into the database.

Rules read master data from the database, never from rule files, so ops can update it
without a deploy. Loading is an upsert: running it twice changes nothing.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from infra.db.tables import PolicyRow, PurchaseOrderRow, VendorRow

_TABLES: dict[str, type[SQLModel]] = {
    "policies": PolicyRow,
    "vendors": VendorRow,
    "purchase_orders": PurchaseOrderRow,
}


def _row(model: type[SQLModel], record: dict[str, str]) -> SQLModel:
    if model is VendorRow:
        record = {**record, "allowed_currencies": record["allowed_currencies"].replace(";", ",")}
    return model.model_validate(record)


def load_reference(*, engine: Engine, path: Path, table: str) -> int:
    """Upsert the CSV's rows into `table`; returns how many rows were read."""
    model = _TABLES[table]
    with path.open(newline="") as fh, Session(engine) as session:
        rows = [_row(model, rec) for rec in csv.DictReader(fh)]
        for row in rows:
            session.merge(row)
        session.commit()
    return len(rows)


def load_shipped_reference(*, engine: Engine, data_dir: Path) -> dict[str, int]:
    loaded = {}
    for table in _TABLES:
        path = data_dir / "samples" / f"{table}.csv"
        if path.exists():
            loaded[table] = load_reference(engine=engine, path=path, table=table)
    return loaded
