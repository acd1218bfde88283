"""The task page in a real browser, keyboard first: ten tasks (two of them rejects)
cleared by keys alone with no trap; typed values checked by their field's shape, in
the page and by the server; and where each value came from (a box on the PDF page,
the line of an OCR'd receipt in reading order, which a click copies into a field).

Debian's chromium through Python playwright, a real uvicorn on 127.0.0.1, SQLite and
a recording publisher (the broker's part is tests/e2e/test_review_browser.py).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Session

from infra.db.engine import make_async_engine, make_engine, migrate
from infra.db.tables import DocumentRow, ExtractionRow, ReviewTaskRow
from infra.pdf import parse_pdf
from review.app import create_app
from schemas.values import normalize
from tests.review_support import (
    PASSWORD,
    RecordingPublisher,
    add_users,
    make_settings,
    payloads,
    seed_tasks,
    serve,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PDF = Path(__file__).resolve().parents[2] / "data" / "invoices" / "AmazonWebServices.pdf"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
INVALID = re.compile(r"\binvalid\b")
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("AUTOCLERK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"chromium is required here (AUTOCLERK_REQUIRE_CHROMIUM=1): {reason}")
        pytest.skip(reason)
    return CHROMIUM


def _app(url: str, publisher: RecordingPublisher) -> FastAPI:
    migrate(url)
    engine = make_async_engine(url)

    async def users() -> None:
        async with async_sessionmaker(engine)() as s:
            await add_users(s, {"ana": "reviewer"})
        await engine.dispose()

    asyncio.run(users())
    return create_app(settings=make_settings(), engine=engine, publisher=publisher)


@contextmanager
def _browser(chromium: Path, base: str, *, expected: str = "") -> Iterator[Any]:
    """A logged-in page (by keyboard); no console errors (CSP, scripts) by the end but
    those that mention `expected` (a status the test provokes)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/login")
        page.keyboard.type("ana")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/queue")
        yield page
        browser.close()
    assert [e for e in errors if not expected or expected not in e] == [], errors


def _focus(page: Any) -> str:
    return str(page.evaluate("(() => { const e = document.activeElement; return e ? e.tagName : ''; })()"))


def _patch(url: str, task_id: str, *, doc: dict[str, Any], fields: dict[str, Any]) -> None:
    engine = make_engine(url)
    with Session(engine) as s:
        task = s.get(ReviewTaskRow, task_id)
        assert task is not None
        row, extraction = s.get(DocumentRow, task.document_id), s.get(ExtractionRow, task.document_id)
        assert row is not None and extraction is not None
        for k, v in doc.items():
            setattr(row, k, v)
        extraction.result = {**extraction.result, "fields": fields}
        s.add_all([row, extraction])
        s.commit()
    engine.dispose()


def test_ten_tasks_including_two_rejects_clear_by_keyboard_alone(chromium: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'review.db'}"
    ids = seed_tasks(url, None, n=10)
    pub = RecordingPublisher()
    completes: list[int] = []
    rejects = {3, 7}
    with serve(_app(url, pub)) as base, _browser(chromium, base) as page:
        page.on("response", lambda r: completes.append(r.status) if r.url.endswith("/complete") else None)
        page.keyboard.press("n")
        for i in range(10):
            page.wait_for_url("**/tasks/*")
            expect(page.locator("#review-form")).to_be_visible()
            here = page.url
            if i in rejects:
                page.keyboard.press("r")
                expect(page.locator("#reject-fields")).to_be_focused()  # what is wrong, first
                page.keyboard.press("b" if i == 3 else "d")
                page.keyboard.press("Enter")
                expect(page.locator("#reason")).to_be_focused()
                page.keyboard.type(f"unreadable scan {i}")
                page.keyboard.press("Enter")
            else:
                page.keyboard.press("F")  # the last flagged field: total, read with low confidence
                expect(page.locator("tr.field.current")).to_have_attribute("data-field", "total")
                page.keyboard.press("e")
                page.keyboard.type(f"{20 + i}.5")
                page.keyboard.press("Enter")
                expect(page.locator("#f-total")).to_have_value(f"{20 + i}.50")  # as the server will store it
                page.keyboard.press("a")
            expect(page.locator("#submitted")).to_be_visible(timeout=15_000)
            assert _focus(page) not in ("INPUT", "TEXTAREA"), f"task {i}: focus stuck in a text box"
            for key in ("Enter", "a", "r", "Enter"):  # the old trap: these re-submitted (409)
                page.keyboard.press(key)
            expect(page.locator("#reason")).not_to_be_focused()
            if i == 3:
                page.screenshot(path=str(ARTIFACTS / "keyboard-reject.png"), full_page=True)
            page.keyboard.press("n")
            page.wait_for_url(lambda u, here=here: u != here)  # type: ignore[misc]
        page.wait_for_url("**/queue?note=queue-empty")
    assert completes == [200] * 10
    sent = payloads(pub)
    assert sorted(e["payload"]["task_id"] for e in sent) == sorted(ids)
    outcomes = [e["payload"]["outcome"] for e in sent]
    assert outcomes.count("reject") == 2 and outcomes.count("approve") == 8
    for e in sent:
        p = e["payload"]
        if p["outcome"] == "reject":
            assert p["reason"].startswith("unreadable scan") and p["corrections"] == []
        else:
            [c] = p["corrections"]
            assert c["field"] == "total" and c["old_value"] == "12.50" and c["new_value"].endswith(".50")


# Typed values of each shape, read alike by values.js and schemas/values.py.
SAMPLES = {
    "date": [
        "20180428",
        "28042018",
        "28/04/2018",
        "04/28/2018",
        "28 Apr 2018",
        "April 28, 2018",
        "2018-13-45",
        "31/02/2019",
        "28 04 18",
        "Date: 3.1.19 10:31",
        "tomorrow",
    ],
    "amount": ["RM 1,234.5", "1.234,56", "12,50", "12.345", "12.355", "-3", "$ 4.11", "twelve", "1,2,3"],
    "codes": ["e785 i10", "E78.5, E785;Z00"],
    "currency": ["$", "rm", "EUR 12", "XX"],
    "address": ["12, Main st ,  town .", "  "],
    "text": [" -ACME  Ltd- ", "#*"],
    "category": ["Health "],
}
FIELD_OF = {
    "date": "issue_date",
    "amount": "total",
    "codes": "diagnosis_codes",
    "currency": "currency",
    "address": "vendor_address",
    "text": "vendor_name",
    "category": "claim_type",
}


def test_typed_values_are_checked_by_shape_in_the_page_and_by_the_server(
    chromium: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'review.db'}"
    [task_id] = seed_tasks(url, None, n=1)
    fields = {
        "vendor_name": {"value": "ACME Ltd", "confidence": 0.97},
        "issue_date": {"value": "2018-04-28", "raw": "28/04/18", "confidence": 0.95},
        "total": {"value": "12.50", "raw": "RM 12,50", "confidence": 0.41},
    }
    _patch(url, task_id, doc={}, fields=fields)
    pub = RecordingPublisher()
    with serve(_app(url, pub)) as base, _browser(chromium, base, expected="422") as page:
        page.keyboard.press("n")
        page.wait_for_url("**/tasks/*")
        # the page reads typed values as the server does (values.js ports schemas/values.py)
        cases = [[shape, text] for shape, texts in SAMPLES.items() for text in texts]
        in_page = page.evaluate("cs => cs.map(([s, t]) => window.autoclerkValues.normalize(s, t))", cases)
        assert in_page == [normalize(FIELD_OF[shape], text) for shape, text in cases]
        # flags: total is low; invoice_number (an invoice must have one) is missing;
        # empty optional fields (due_date, po_number, ...) are neither
        assert page.locator("tr.field.low").evaluate_all("rs => rs.map(r => r.dataset.field)") == ["total"]
        assert page.locator("tr.field.missing").evaluate_all("rs => rs.map(r => r.dataset.field)") == [
            "invoice_number"
        ]
        expect(page.locator('tr[data-field="issue_date"] .printed')).to_contain_text("28/04/18")
        expect(page.locator('tr[data-field="total"] .printed')).to_contain_text("RM 12,50")
        page.keyboard.press("f")
        expect(page.locator("tr.field.current")).to_have_attribute("data-field", "invoice_number")
        page.keyboard.press("f")
        expect(page.locator("tr.field.current")).to_have_attribute("data-field", "total")
        page.keyboard.press("k")  # tax
        page.keyboard.press("F")
        expect(page.locator("tr.field.current")).to_have_attribute("data-field", "invoice_number")

        # a date that is no date stays in the box, marked; Escape undoes it
        page.keyboard.press("j")
        expect(page.locator("tr.field.current")).to_have_attribute("data-field", "issue_date")
        page.keyboard.press("e")
        page.keyboard.type("2018-13-45")
        page.keyboard.press("Enter")
        expect(page.locator('tr[data-field="issue_date"]')).to_have_class(INVALID)
        expect(page.locator("#m-issue_date")).to_contain_text("not a valid date")
        expect(page.locator("#f-issue_date")).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.locator("#f-issue_date")).to_have_value("2018-04-28")
        expect(page.locator("#m-issue_date")).to_have_text("")
        # 20180428 is read as a date and shown as stored
        page.keyboard.press("e")
        page.keyboard.type("29042018")
        page.keyboard.press("Enter")
        expect(page.locator("#f-issue_date")).to_have_value("2018-04-29")
        expect(page.locator("#f-issue_date")).to_have_class("changed")

        # Escape leaves the reason box, and keys work again
        page.keyboard.press("r")
        page.keyboard.type("n")
        page.keyboard.press("Escape")
        expect(page.locator("#reason")).not_to_be_focused()
        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#help")).to_be_hidden()

        # what the page's check lets through, the server checks again: 422 names the field
        page.evaluate("document.getElementById('f-total').value = 'twelve'")
        page.keyboard.press("a")
        expect(page.locator("#result .error")).to_contain_text("InvalidValue")
        expect(page.locator('tr[data-field="total"]')).to_have_class(INVALID)
        expect(page.locator("#m-total")).to_contain_text("'twelve' is not a valid amount")
        assert _focus(page) not in ("INPUT", "TEXTAREA")
        page.screenshot(path=str(ARTIFACTS / "keyboard-invalid.png"), full_page=True)
        page.keyboard.press("e")
        page.keyboard.press("Escape")  # undo: total back to what was read
        page.keyboard.press("a")
        expect(page.locator("#submitted")).to_be_visible(timeout=15_000)
    [event] = payloads(pub)
    assert event["payload"]["corrections"] == [
        {"field": "issue_date", "old_value": "2018-04-28", "new_value": "2018-04-29", "old_confidence": 0.95}
    ]


def _pdf_task(url: str, task_id: str) -> tuple[int, tuple[float, float, float, float]]:
    data = PDF.read_bytes()
    lines, pages = parse_pdf(data=data)
    at = next(i for i, ln in enumerate(lines) if ln.text.startswith("Total for this invoice"))
    box = lines[at].bbox
    assert box is not None
    doc = {
        "text": "\n".join(ln.text for ln in lines),
        "layout": [ln.model_dump(mode="json") for ln in lines],
        "pages": [p.model_dump(mode="json") for p in pages],
        "original_pdf": data,
    }
    source = {"page": 0, "line": at, "bbox": list(box)}
    fields = {"total": {"value": "4.11", "raw": "$4.11", "confidence": 0.5, "source": source}}
    _patch(url, task_id, doc=doc, fields=fields)
    return at, box


# A receipt's OCR lines in the order OCR gave them: not the order they are read in.
RECEIPT = [
    ("12.50", (200.0, 81.0, 260.0, 95.0)),
    ("TOTAL", (10.0, 80.0, 80.0, 94.0)),
    ("SHOP ABC SDN BHD", (10.0, 10.0, 200.0, 24.0)),
    ("28/04/2018 10:31", (10.0, 40.0, 150.0, 54.0)),
]


def _receipt_task(url: str, task_id: str) -> None:
    doc = {
        "text": "\n".join(t for t, _ in RECEIPT),
        "layout": [{"text": t, "page": 0, "bbox": list(b)} for t, b in RECEIPT],
        "pages": [{"width": 300.0, "height": 200.0}],
        "doc_metadata": {"subtype": "receipt"},
    }
    fields = {
        "vendor_name": {"value": "SHOP ABC SDN BHD", "confidence": 0.9, "source": {"line": 2}},
        "total": {"value": "12.50", "confidence": 0.4, "source": {"line": 0, "bbox": list(RECEIPT[0][1])}},
    }
    _patch(url, task_id, doc=doc, fields=fields)


def test_where_a_value_came_from(chromium: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'review.db'}"
    pdf_task, receipt_task = seed_tasks(url, None, n=2)
    at, box = _pdf_task(url, pdf_task)
    _receipt_task(url, receipt_task)
    with serve(_app(url, RecordingPublisher())) as base, _browser(chromium, base) as page:
        # a PDF: the value's box drawn over the page image, its line marked in the text
        page.goto(f"{base}/tasks/{pdf_task}")
        img = page.locator("img.pdf-page")
        expect(img).to_be_visible()
        expect(img).to_have_js_property("complete", True)
        page.keyboard.press("F")
        expect(page.locator("tr.field.current")).to_have_attribute("data-field", "total")
        overlay = page.locator(".source-box")
        expect(overlay).to_be_visible()
        expect(page.locator(".doc-lines li.source")).to_have_attribute("data-line", str(at))
        shown, on = overlay.bounding_box(), img.bounding_box()
        assert shown is not None and on is not None
        sx, sy = on["width"] / 612.0, on["height"] / 792.0
        assert abs(shown["x"] - (on["x"] + box[0] * sx)) < 3 and abs(shown["y"] - (on["y"] + box[1] * sy)) < 3
        assert abs(shown["width"] - (box[2] - box[0]) * sx) < 3
        assert abs(shown["height"] - (box[3] - box[1]) * sy) < 3
        page.screenshot(path=str(ARTIFACTS / "source-pdf.png"), full_page=True)
        page.keyboard.press("j")  # a field without a source hides the box
        expect(overlay).to_be_hidden()

        # a receipt: its lines in reading order, the value's line marked
        page.goto(f"{base}/tasks/{receipt_task}")
        lines = page.locator(".doc-lines li")
        assert lines.all_inner_texts() == ["SHOP ABC SDN BHD", "28/04/2018 10:31", "TOTAL", "12.50"]
        page.keyboard.press("j")
        expect(page.locator(".doc-lines li.source")).to_have_text("SHOP ABC SDN BHD")
        page.keyboard.press("F")
        expect(page.locator("tr.field.current")).to_have_attribute("data-field", "total")
        expect(page.locator(".doc-lines li.source")).to_have_text("12.50")
        # a click on a line fills the field being edited (read as the field's shape)
        page.locator("#f-issue_date").click()
        page.keyboard.press("Enter")  # Enter on a field edits it
        expect(page.locator("#f-issue_date")).to_be_editable()
        lines.nth(1).click()
        expect(page.locator("#f-issue_date")).to_have_value("2018-04-28")
        expect(page.locator("#f-issue_date")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#f-issue_date")).to_have_class("changed")
        page.keyboard.press("f")  # total
        page.keyboard.press("e")
        lines.nth(2).click()  # "TOTAL": no amount in it; the text itself, to edit
        expect(page.locator("#f-total")).to_have_value("TOTAL")
        lines.nth(3).click()
        expect(page.locator("#f-total")).to_have_value("12.50")
        page.screenshot(path=str(ARTIFACTS / "source-receipt.png"), full_page=True)
        page.keyboard.press("Escape")
