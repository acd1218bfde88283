"""infra.pdf on the shipped invoice PDFs (data/invoices, MIT, invoice2data) and on
bytes that must be refused."""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pypdf
import pytest

from infra.errors import PdfUnreadable, PermanentInfraError
from infra.pdf import document_from_pdf, parse_pdf

INVOICES = Path(__file__).resolve().parents[2] / "data" / "invoices"
PDFS = sorted(INVOICES.glob("*.pdf"))

# Month names in the languages of the shipped invoices (en, de, fr, nl), lower case.
MONTHS = {
    1: ("january", "jan", "januar", "janvier", "januari"),
    2: ("february", "feb", "februar", "février", "februari"),
    3: ("march", "mar", "märz", "mars", "maart"),
    4: ("april", "apr", "avril"),
    5: ("may", "mai", "mei"),
    6: ("june", "jun", "juni", "juin"),
    7: ("july", "jul", "juli", "juillet"),
    8: ("august", "aug", "août", "augustus"),
    9: ("september", "sep", "sept", "septembre"),
    10: ("october", "oct", "oktober", "octobre"),
    11: ("november", "nov", "novembre"),
    12: ("december", "dec", "dezember", "décembre"),
}


def _gold(pdf: Path) -> dict[str, object]:
    raw = json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8"))
    return raw[0] if isinstance(raw, list) else raw


def _amounts(text: str) -> set[Decimal]:
    """Every number in the text read as an amount, in both decimal conventions."""
    found: set[Decimal] = set()
    for token in re.findall(r"\d[\d.,]*", text):
        token = token.rstrip(".,")
        for thousands, decimal in ((",", "."), (".", ",")):
            with contextlib.suppress(InvalidOperation):
                found.add(Decimal(token.replace(thousands, "").replace(decimal, ".")))
    return found


def _has_date(text: str, day: date) -> bool:
    """Some line holds the year, the day and the month (as a number or a name)."""
    month_words = MONTHS[day.month]
    for line in text.lower().splitlines():
        if str(day.year) not in line and f"{day.year % 100:02d}" not in line:
            continue
        numbers = {int(n) for n in re.findall(r"\d+", line)}
        words = set(re.findall(r"[a-zäéû]+", line))
        if day.day in numbers and (day.month in numbers or words & set(month_words)):
            return True
    return False


def test_invoice_pdfs_are_shipped() -> None:
    assert len(PDFS) >= 10
    assert (INVOICES / "LICENSE").read_text().startswith("The MIT License")


@pytest.mark.parametrize("pdf", PDFS, ids=lambda p: p.stem)
def test_gold_values_appear_in_parsed_text(pdf: Path) -> None:
    gold = _gold(pdf)
    lines, pages = parse_pdf(data=pdf.read_bytes())
    text = "\n".join(line.text for line in lines)

    assert pages and all(p.width > 0 and p.height > 0 for p in pages)
    assert all(0 <= line.page < len(pages) for line in lines)
    assert all(line.bbox is not None and line.bbox[0] <= line.bbox[2] for line in lines)

    squeezed = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", str(gold["invoice_number"])) in squeezed
    if "amount" in gold:
        assert Decimal(str(gold["amount"])).quantize(Decimal("0.01")) in _amounts(text)
    assert _has_date(text, date.fromisoformat(str(gold["date"])))
    issuer_word = str(gold["issuer"]).split()[0].lower()
    if pdf.stem != "saeco":  # its issuer block is an image (the PDF says so itself)
        assert issuer_word in text.lower()


def test_rows_are_in_reading_order_with_boxes() -> None:
    lines, _ = parse_pdf(data=(INVOICES / "AzureInterior.pdf").read_bytes())
    tops = [line.bbox[1] for line in lines if line.bbox]
    assert tops == sorted(tops)
    total = next(line for line in lines if line.text.startswith("Total"))
    assert total.text == "Total $ 279.84"


def test_document_from_pdf_uses_content_hash_and_page_sizes() -> None:
    data = (INVOICES / "QualityHosting.pdf").read_bytes()
    first = document_from_pdf(data=data, kind="invoice", metadata={"source": "test"})
    again = document_from_pdf(data=data, kind="invoice")
    assert first.document_id == again.document_id and len(first.document_id) == 64
    assert len(first.pages) == 2 and {line.page for line in first.lines} == {0, 1}
    assert first.metadata == {"source_format": "pdf", "source": "test"}
    assert "Rechnungsnr. 30064443" in first.text


def _rewrite(data: bytes, *, user_password: str, owner_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not_pdf"),
        (b"PK\x03\x04 this is a zip file, not a PDF" * 20, "not_pdf"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "not_pdf"),
    ],
    ids=["empty", "garbage", "header-only"],
)
def test_garbage_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(PdfUnreadable) as caught:
        parse_pdf(data=data)
    assert caught.value.reason == reason
    assert isinstance(caught.value, PermanentInfraError)


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_truncated_pdf_is_refused(keep: float) -> None:
    data = (INVOICES / "oyo.pdf").read_bytes()
    with pytest.raises(PdfUnreadable, match="not_pdf"):
        parse_pdf(data=data[: int(len(data) * keep)])


def test_encrypted_pdf_needs_a_password() -> None:
    data = _rewrite((INVOICES / "oyo.pdf").read_bytes(), user_password="s3cret", owner_password="o")
    with pytest.raises(PdfUnreadable) as caught:
        parse_pdf(data=data)
    assert caught.value.reason == "encrypted"


def test_owner_only_encryption_still_reads() -> None:
    data = _rewrite((INVOICES / "oyo.pdf").read_bytes(), user_password="", owner_password="o")
    lines, _ = parse_pdf(data=data)
    assert any("IBZY2087" in line.text for line in lines)


def test_pdf_without_text_layer_is_refused() -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(PdfUnreadable) as caught:
        parse_pdf(data=out.getvalue())
    assert caught.value.reason == "no_text"


def test_page_limit() -> None:
    data = (INVOICES / "QualityHosting.pdf").read_bytes()
    with pytest.raises(PdfUnreadable) as caught:
        parse_pdf(data=data, max_pages=1)
    assert caught.value.reason == "too_many_pages"
    assert len(parse_pdf(data=data, max_pages=2)[1]) == 2
