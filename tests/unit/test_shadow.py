"""The shadow extractor never changes what the active model returns, and its failures
stay its own; the shadow report's figures on a hand-computed case."""

from __future__ import annotations

import asyncio

import pytest

from agents.routing import RoutingPolicy
from agents.shadow import ShadowExtractor, chosen, clears_thresholds
from feedback.shadow_report import shadow_report
from schemas.document import Document, Line
from schemas.fields import ExtractedField, Extraction
from schemas.shadow import ShadowPrediction
from tests.fakes import FakeExtractor, FakeShadowStore

POLICY = RoutingPolicy(default_threshold=0.9)


def invoice(doc_id: str, *, total: str = "12.50") -> Document:
    lines = ["vendor_name: Acme", "issue_date: 2026-11-02", f"total: {total}"]
    return Document(document_id=doc_id, kind="invoice", lines=[Line(text=t) for t in lines])


class PricedExtractor(FakeExtractor):
    """FakeExtractor that reads totals ten times bigger, costs $0.01 a document, or fails."""

    version = "shadow-2"

    def __init__(self, *, mode: str = "ok", delay_s: float = 0.0) -> None:
        self.mode, self.delay_s, self.calls = mode, delay_s, 0

    async def extract(self, document: Document) -> Extraction:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.mode == "raise":
            raise RuntimeError("shadow crashed")
        got = await super().extract(document)
        total = got.fields["total"]
        fields = {
            **got.fields,
            "total": total.model_copy(update={"value": str(float(total.value or 0) * 10)}),
        }
        return got.model_copy(
            update={"fields": fields, "model_version": self.version, "notes": {"cost_usd": "0.01"}}
        )


def shadowed(shadow: PricedExtractor, store: FakeShadowStore, **kw: object) -> ShadowExtractor:
    args: dict[str, object] = {"share": 1.0, "timeout_s": 1.0, **kw}
    return ShadowExtractor(
        active=FakeExtractor(),
        shadow=shadow,
        shadow_ref="extractor/shadow-2",
        store=store,
        policy=POLICY,
        **args,  # type: ignore[arg-type]
    )


async def test_active_reading_returned_and_shadow_stored_once() -> None:
    store, shadow = FakeShadowStore(), PricedExtractor()
    wrapper = shadowed(shadow, store)
    doc = invoice("d1")
    first = await wrapper.extract(doc)
    assert first == await FakeExtractor().extract(doc) and wrapper.version == FakeExtractor.version
    again = await wrapper.extract(doc)  # a redelivery: not shadowed, not paid, twice
    assert again == first and shadow.calls == 1 and wrapper.counts.skipped_seen == 1
    (row,) = store.rows.values()
    assert row.shadow.value("total") == "125.0" and row.active.value("total") == "12.50"
    assert row.active_straight_through and row.shadow_straight_through and row.cost_usd == 0.01


@pytest.mark.parametrize("mode,why", [("raise", "shadow_error: RuntimeError"), ("slow", "shadow_timeout")])
async def test_a_failing_shadow_is_recorded_and_counted(mode: str, why: str) -> None:
    store = FakeShadowStore()
    wrapper = shadowed(
        PricedExtractor(mode=mode, delay_s=0.5 if mode == "slow" else 0), store, timeout_s=0.05
    )
    doc = invoice("d2")
    assert await wrapper.extract(doc) == await FakeExtractor().extract(doc)
    (row,) = store.rows.values()
    assert row.shadow is None and row.failure.startswith(why) and not row.shadow_straight_through
    assert wrapper.counts.failed == 1


async def test_a_broken_store_never_reaches_the_document() -> None:
    store, shadow = FakeShadowStore(broken=True), PricedExtractor()
    wrapper = shadowed(shadow, store)
    doc = invoice("d3")
    assert await wrapper.extract(doc) == await FakeExtractor().extract(doc)
    assert wrapper.counts.store_errors == 1 and shadow.calls == 0


async def test_budget_exhausted_stops_the_shadow() -> None:
    store, shadow = FakeShadowStore(), PricedExtractor()
    wrapper = shadowed(shadow, store, budget_usd=0.025)
    docs = [invoice(f"b{i}") for i in range(5)]
    results = [await wrapper.extract(d) for d in docs]
    assert results == [await FakeExtractor().extract(d) for d in docs]
    # $0.01 each: after three the stored spend (0.03) reaches the budget
    assert shadow.calls == 3 and wrapper.counts.skipped_budget == 2 and len(store.rows) == 3


def test_share_is_a_stable_hash_choice() -> None:
    ids = [f"doc-{i}" for i in range(2000)]
    picked = [i for i in ids if chosen(i, share=0.25)]
    assert 0.2 < len(picked) / len(ids) < 0.3 and picked == [i for i in ids if chosen(i, share=0.25)]
    assert not any(chosen(i, share=0.0) for i in ids) and all(chosen(i, share=1.0) for i in ids)


def test_clears_thresholds() -> None:
    def ext(conf: float, total: str | None = "1.00") -> Extraction:
        fields = {n: ExtractedField(value="x", confidence=conf) for n in ("vendor_name", "issue_date")}
        fields["total"] = ExtractedField(value=total, confidence=conf)
        return Extraction(kind="invoice", fields=fields, model_version="v")

    assert clears_thresholds(POLICY, ext(0.95)) and not clears_thresholds(POLICY, ext(0.85))
    assert not clears_thresholds(POLICY, ext(0.95, total=None))


def _reading(version: str, **values: str | None) -> Extraction:
    fields = {n: ExtractedField(value=v, confidence=0.99) for n, v in values.items()}
    return Extraction(kind="invoice", fields=fields, model_version=version)


def test_report_on_a_hand_computed_case() -> None:
    # three shadowed invoices; the shadow fails on the third; the first two were reviewed
    def row(
        doc: str, active: Extraction, shadow: Extraction | None, st: tuple[bool, bool]
    ) -> ShadowPrediction:
        return ShadowPrediction(
            document_id=doc,
            shadow_ref="extractor/s",
            model_version="s",
            active_version="a",
            kind="invoice",
            active=active,
            shadow=shadow,
            failure=None if shadow else "shadow_timeout: no answer within 1s",
            active_straight_through=st[0],
            shadow_straight_through=st[1],
            cost_usd=None,
            latency_ms=10.0 * (len(doc)),
        )

    rows = [
        row(
            "d1",
            _reading("a", total="10", vendor_name="Acme"),
            _reading("s", total="10", vendor_name="ACME "),
            (True, True),
        ),
        row(
            "d2",
            _reading("a", total="20", vendor_name="Bolt"),
            _reading("s", total="21", vendor_name="Bolt"),
            (False, True),
        ),
        row("d3", _reading("a", total="30", vendor_name="Coil"), None, (True, False)),
    ]
    # reviewer: d1 total 10 (both right), vendor Acme; d2 total 21 (shadow right, active wrong)
    gold = {"d1": {"total": "10", "vendor_name": "Acme"}, "d2": {"total": "21"}}
    report = shadow_report(ref="extractor/s", predictions=rows, gold=gold)
    assert report.documents == 3 and report.failures == 1 and report.cost_usd is None
    (k,) = report.kinds
    agreement = {a.field: (a.agree, a.compared) for a in k.agreement}
    assert agreement["total"] == (1, 2) and agreement["vendor_name"] == (2, 2)  # case and spaces do not count
    assert agreement["issue_date"] == (2, 2)  # both absent: agree
    assert k.active_straight_through == pytest.approx(2 / 3) and k.shadow_straight_through == pytest.approx(
        2 / 3
    )
    accuracy = {a.field: (a.labelled, a.shadow_correct, a.active_correct) for a in k.accuracy}
    assert accuracy == {"total": (2, 2, 1), "vendor_name": (1, 1, 1)} and k.labelled == 2
