"""Master data read for the rules is cached per worker for `db.reference_ttl_s`; the
business-key duplicate check is never cached. Both databases."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from autoclerk.bootstrap import open_database
from infra.db.engine import make_engine
from infra.db.tables import BusinessKeyRow, DocumentRow, VendorRow
from infra.store_core import insert_rows
from schemas.fields import ExtractedField, Extraction


def invoice(vendor: str) -> Extraction:
    fields = {
        "vendor_name": ExtractedField(value=vendor, confidence=0.99),
        "invoice_number": ExtractedField(value="7", confidence=0.99),
    }
    return Extraction(kind="invoice", fields=fields, model_version="x")


def set_threshold(url: str, schema: str | None, value: float) -> None:
    engine = make_engine(url, schema=schema)
    with engine.begin() as c:
        c.execute(update(VendorRow).where(col(VendorRow.name) == "ACME").values(approval_threshold=value))
    engine.dispose()


async def test_vendor_is_cached_for_the_ttl_and_duplicates_are_always_read(
    db: tuple[str, str | None],
) -> None:
    url, schema = db
    for ttl, expected in ((3600.0, 100.0), (0.0, 250.0)):
        async with open_database(url, schema=schema, reference_ttl_s=ttl) as d:
            engine = make_engine(url, schema=schema)
            with engine.begin() as c:
                c.execute(VendorRow.__table__.delete())  # type: ignore[attr-defined]
                c.execute(BusinessKeyRow.__table__.delete())  # type: ignore[attr-defined]
                c.execute(DocumentRow.__table__.delete())  # type: ignore[attr-defined]
                # d0 first, then d1: a duplicate is only ever an earlier document
                for i in (0, 1):
                    doc = DocumentRow(
                        document_id=f"d{i}",
                        event_id=f"e{i}",
                        kind="invoice",
                        content_hash="h",
                        text="",
                        source="t",
                    )
                    insert_rows(c, doc)
                c.execute(
                    VendorRow.__table__.insert(),  # type: ignore[attr-defined]
                    {"name": "ACME", "allowed_currencies": "EUR", "approval_threshold": 100.0},
                )
            engine.dispose()
            first = await d.store.reference_facts(extraction=invoice(" acme "), document_id="d1")
            assert first.vendor is not None and first.vendor["approval_threshold"] == 100.0
            assert first.duplicate_of is None
            set_threshold(url, schema, 250.0)
            engine = make_engine(url, schema=schema)
            with engine.begin() as c:
                c.execute(
                    BusinessKeyRow.__table__.insert(),  # type: ignore[attr-defined]
                    {"key": invoice("ACME").business_key(), "document_id": "d0"},
                )
            engine.dispose()
            again = await d.store.reference_facts(extraction=invoice("ACME"), document_id="d1")
            assert again.vendor is not None and again.vendor["approval_threshold"] == expected
            assert again.duplicate_of == "d0"
