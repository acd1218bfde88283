"""Value normalisers and parsers: one spelling for every value, one reading of it.

Extractors, gold labels, rules, routing, review and evaluation all pass values through
these, so a receipt's "09/01/2019" and a label's "2019-01-09" compare equal, and an
amount is read the same way wherever it decides something. Each normaliser returns
None when the text holds no valid value of its shape; that failure is what the
validators report and what lowers an extraction's confidence. A field's shape comes
from the catalogue (`schemas.catalogue`).

Dates default to day-first (the receipts we train on are Malaysian); where a date is
ambiguous the candidate generator offers both readings and the ranker learns which
convention a document source uses (see `date_readings`).

The parsers (`parse_amount`, `parse_date`) read values already normalised (or typed
by a reviewer) into numbers and dates for rules and policies; they raise ValueError
on anything else, so a caller decides what an unreadable value means.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from schemas.catalogue import SHAPES, SIZING_FIELDS, Shape

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "JAN",
            "FEB",
            "MAR",
            "APR",
            "MAY",
            "JUN",
            "JUL",
            "AUG",
            "SEP",
            "OCT",
            "NOV",
            "DEC",
        ]
    )
}
_MON = r"(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\.?"
# Each pattern yields (day, month, year) groups in a known order, named by the order.
DATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ymd", re.compile(r"(?<!\d)(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})(?!\d)")),
    (
        "dmy",
        re.compile(r"(?<!\d)(\d{1,2})\s?[/\-.]\s?(\d{1,2})\s?[/\-.]\s?(\d{4}|\d{2})(?!\d)"),
    ),
    (
        "dMy",
        re.compile(r"(?<!\d)(\d{1,2})[\s\-/.]*" + _MON + r"[\s\-/.,]*(\d{4}|\d{2})(?!\d)"),
    ),
    ("Mdy", re.compile(_MON + r"\s*(\d{1,2}),?\s*(\d{4})(?!\d)")),
    ("8digit", re.compile(r"(?<!\d)(\d{8})(?!\d)")),
    ("spaced", re.compile(r"(?<![\d.])(\d{2}) (\d{2}) (\d{4}|\d{2})(?![\d.])")),
)


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        return 2000 + y if y < 70 else 1900 + y
    return y


def _iso(y: int, m: int, d: int) -> str | None:
    if not 1900 <= y <= 2100:
        return None
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def date_readings(kind: str, match: re.Match[str]) -> list[tuple[str, bool]]:
    """All valid ISO readings of one date match, each flagged `dayfirst` or not.

    Day-first comes first, so callers that want a single answer take `[0]`.
    """
    g = match.groups()
    out: list[tuple[str, bool]] = []
    if kind == "ymd":
        out.append((_iso(int(g[0]), int(g[1]), int(g[2])) or "", False))
    elif kind in ("dmy", "spaced"):
        y = _year(g[2])
        out.append((_iso(y, int(g[1]), int(g[0])) or "", True))
        out.append((_iso(y, int(g[0]), int(g[1])) or "", False))
    elif kind == "dMy":
        out.append((_iso(_year(g[2]), _MONTHS[g[1][:3]], int(g[0])) or "", True))
    elif kind == "Mdy":
        out.append((_iso(int(g[2]), _MONTHS[g[0][:3]], int(g[1])) or "", False))
    else:
        s = g[0]
        if s[:2] in ("19", "20"):
            out.append((_iso(int(s[:4]), int(s[4:6]), int(s[6:])) or "", False))
        out.append((_iso(int(s[4:]), int(s[2:4]), int(s[:2])) or "", True))
    seen: set[str] = set()
    valid = []
    for iso, dayfirst in out:
        if iso and iso not in seen:
            seen.add(iso)
            valid.append((iso, dayfirst))
    return valid


def normalize_date(text: str | None) -> str | None:
    """First valid date in `text` as ISO 8601 YYYY-MM-DD, day-first when ambiguous."""
    if not text:
        return None
    upper = text.upper()
    hits: list[tuple[int, str]] = []
    for kind, pattern in DATE_PATTERNS:
        for m in pattern.finditer(upper):
            readings = date_readings(kind, m)
            if readings:
                hits.append((m.start(), readings[0][0]))
    return min(hits)[1] if hits else None


_CURRENCY = re.compile(r"(RM|MYR|USD|EUR|GBP|SGD|US\$|S\$|\$|€|£)", re.IGNORECASE)


def normalize_amount(text: str | None) -> str | None:
    """A money amount as a plain decimal string with two places ("1234.50")."""
    if not text:
        return None
    s = _CURRENCY.sub("", text).replace(" ", "").strip()
    if s.count(",") and s.count("."):
        # whichever separator comes last is the decimal point
        s = s.replace(",", "") if s.rfind(".") > s.rfind(",") else s.replace(".", "").replace(",", ".")
    elif s.count(",") == 1 and re.fullmatch(r"-?\d+,\d{2}", s):
        s = s.replace(",", ".")
    else:
        s = s.replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", s):
        return None
    try:
        return str(Decimal(s).quantize(Decimal("0.01")))
    except InvalidOperation:
        return None


_WS = re.compile(r"\s+")
_COMMA = re.compile(r"\s*,\s*")
_SPACE_BEFORE_STOP = re.compile(r"\s+([.;:])")


def normalize_text(text: str | None) -> str | None:
    """Names and free text: collapsed whitespace, stray edge punctuation removed."""
    if text is None:
        return None
    s = _WS.sub(" ", text).strip().strip(":;,-*#").strip()
    return s or None


def normalize_address(text: str | None) -> str | None:
    """Addresses: upper case, no commas, single spaces.

    Commas are dropped because sources disagree on them (OCR splits lines at them,
    labels insert them between lines) while they never change which place is meant.
    """
    s = normalize_text(text)
    if s is None:
        return None
    s = _COMMA.sub(" ", s.upper())
    s = _SPACE_BEFORE_STOP.sub(r"\1", s)
    return _WS.sub(" ", s).strip() or None


_ICD_UNDOTTED = re.compile(r"([A-Z][0-9][0-9A-Z])([0-9A-Z]{1,4})")


def _code(token: str) -> str:
    # claim forms print ICD-10-CM codes without the dot (E785 for E78.5)
    m = _ICD_UNDOTTED.fullmatch(token)
    return f"{m.group(1)}.{m.group(2)}" if m else token


def normalize_codes(text: str | None) -> str | None:
    """Code lists (ICD-10-CM, SNOMED, CPT): upper case, dotted ICD, comma separated."""
    if not text:
        return None
    parts = [_code(p) for p in re.split(r"[\s,;|/]+", text.upper()) if p]
    return ",".join(dict.fromkeys(parts)) or None


_CURRENCIES = {"$": "USD", "US$": "USD", "RM": "MYR", "€": "EUR", "£": "GBP", "S$": "SGD"}
CURRENCY_PATTERN = re.compile(r"(?<![A-Z])(USD|MYR|EUR|GBP|SGD|US\$|S\$|RM|\$|€|£)(?![A-Z])")


def normalize_currency(text: str | None) -> str | None:
    """A currency as its ISO 4217 code ("$" is read as USD)."""
    if not text:
        return None
    m = CURRENCY_PATTERN.search(text.upper())
    return _CURRENCIES.get(m.group(1), m.group(1)) if m else None


def normalize_category(text: str | None) -> str | None:
    """Enumerated values (claim type): lower case words."""
    s = normalize_text(text)
    return s.lower() if s else None


def shape_of(field: str) -> Shape:
    """The value shape of a field: as the catalogue declares it, else from its name
    (line items' `amount`, labels' `date`: our schemas name fields by shape)."""
    declared = SHAPES.get(field)
    if declared is not None:
        return declared
    if field.endswith("_date") or field == "date":
        return "date"
    if field == "amount" or field.endswith("_amount"):
        return "amount"
    if field.endswith("_codes"):
        return "codes"
    if field.endswith("address"):
        return "address"
    return "text"


_NORMALIZERS = {
    "date": normalize_date,
    "amount": normalize_amount,
    "codes": normalize_codes,
    "address": normalize_address,
    "text": normalize_text,
    "currency": normalize_currency,
    "category": normalize_category,
}


def normalize(field: str, text: str | None) -> str | None:
    """Normalise `text` as a value of `field`; None when it holds no valid value."""
    return _NORMALIZERS[shape_of(field)](text)


def is_valid(field: str, value: str | None) -> bool:
    """Whether a normalised value is well formed for its field (None is not)."""
    if value is None:
        return False
    return normalize(field, value) == value


def comparison_key(value: str | None) -> str | None:
    """The key evaluation compares on: case-folded, all whitespace removed."""
    if value is None:
        return None
    key = _WS.sub("", value).casefold()
    return key or None


def parse_amount(value: str | None) -> Decimal | None:
    """An amount as stored (a plain decimal) or as a person typed it (thousands commas,
    a leading currency sign) → Decimal; None for None; ValueError for anything else."""
    if value is None:
        return None
    try:
        amount = Decimal(value.replace(",", "").strip().lstrip("$€£"))
    except InvalidOperation as exc:
        raise ValueError(value) from exc
    if not amount.is_finite():
        raise ValueError(value)
    return amount


def parse_date(value: str | None) -> str | None:
    """ISO 8601 date (or datetime) → `YYYY-MM-DD`; None for None; ValueError otherwise."""
    if value is None:
        return None
    return date.fromisoformat(value.strip()[:10]).isoformat()


def document_amount(values: Mapping[str, str | None]) -> Decimal | None:
    """The amount that sizes a document (an invoice's total, a claim's claimed amount):
    the first sizing field (`schemas.catalogue`) present and readable, else None."""
    for name in SIZING_FIELDS:
        raw = values.get(name)
        if raw:
            try:
                return parse_amount(raw)
            except ValueError:
                continue
    return None
