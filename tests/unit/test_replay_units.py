"""Replay pieces without a database: the rate limit, the stop between documents, the
shadow comparison against a reviewer's label, and the report's HTML escaping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.replay_drive import DriveOptions, RateLimit, drive
from agents.replay_shadow import build_report, compare
from autoclerk.replay_report import as_html, as_json
from schemas.document import Document
from schemas.replay import ReplayTarget


def target(doc_id: str = "d1", **kw: Any) -> ReplayTarget:
    doc = Document.from_text(document_id=doc_id, kind="invoice", text="total: 1")
    base: dict[str, Any] = {
        "document_id": doc_id,
        "document": doc,
        "received_at": datetime(2026, 1, 1, tzinfo=UTC),
        "correlation_id": "c",
        "status": "decided",
    }
    return ReplayTarget(**{**base, **kw})


def extraction(**values: str) -> dict[str, Any]:
    return {"fields": {k: {"value": v} for k, v in values.items()}, "notes": {"cost_usd": "0.002"}}


async def test_rate_limit_spaces_starts_evenly(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    original = asyncio.sleep

    async def fake_sleep(s: float) -> None:
        slept.append(s)
        await original(0)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    limit = RateLimit(4.0, clock=lambda: 0.0)
    for _ in range(3):
        await limit.wait()
    assert slept == [0.25, 0.5]  # the clock stood still: each start waits its slot


class Items:
    """`ReplayStore.pending` over a list; nothing else is called by `drive`."""

    def __init__(self, n: int) -> None:
        self.targets = [(i + 1, target(f"d{i + 1}")) for i in range(n)]

    async def pending(self, *, replay_id: str, after_seq: int, limit: int) -> list[tuple[int, ReplayTarget]]:
        return [(s, t) for s, t in self.targets if s > after_seq][:limit]


async def test_drive_stops_between_documents_and_reports_unfinished() -> None:
    stop, seen = asyncio.Event(), []

    async def one(t: ReplayTarget) -> str:
        seen.append(t.document_id)
        if len(seen) == 3:
            stop.set()  # SIGINT while the third runs: it finishes, no fourth starts
        return "superseded"

    done = await drive(
        store=Items(10),  # type: ignore[arg-type]
        replay_id="r",
        one=one,
        options=DriveOptions(concurrency=1, batch=4),
        stop=stop,
        progress=lambda _: None,
    )
    assert done is False and seen == ["d1", "d2", "d3"]


def test_compare_against_a_reviewer_label() -> None:
    t = target(
        outcome="approve",
        decided_by="human",
        decision_fields={"vendor_name": "ACME", "issue_date": "2024-01-02", "total": "950.00"},
        extraction=extraction(vendor_name="ACME", issue_date="2024-01-02", total="900.00"),
    )
    result = {
        "decision": {"outcome": "approve"},
        "route": {"reasons": []},
        "extraction": extraction(vendor_name="acme", issue_date="2 Jan 2024", total="950"),
    }
    row = compare(t, result)
    assert (row.before, row.after, row.label) == ("review", "approve", "approve")
    assert row.wrong_before == ["total"] and row.wrong_after == []  # normalised: 950 == 950.00
    assert [c.field for c in row.field_changes] == ["total"]  # case and date spelling are the same value
    report = build_report(replay_id="r", rows=[row], candidate={"extractor": "x"})
    assert report.error_after.straight_through == 1 and report.error_after.rate == 0.0
    assert report.cost_usd == 0.002


def test_html_report_escapes_document_text() -> None:
    row = compare(
        target("<script>x</script>", outcome="approve", decided_by="auto", extraction=extraction(total="1")),
        {"decision": {"outcome": "reject"}, "route": {"reasons": []}, "extraction": extraction(total="2")},
    )
    report = build_report(replay_id="r", rows=[row], candidate={})
    html = as_html(report)
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert '"rate": null' in as_json(report)  # no labels: no estimate, said so
