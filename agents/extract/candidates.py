"""Candidate values for a field: every span or line block that could be its value.

The ranker never invents text: it picks among candidates generated here by the
field's shape (dates, amounts, codes, names, multi-line addresses). So a field can
only be right when its value is among the candidates, and the candidate recall of a
dataset is the ceiling on the model's accuracy (`candidate_recall` measures it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agents.extract import forms
from agents.extract.normalize import AMOUNT_PATTERN, CODE_PATTERN
from schemas.catalogue import Shape
from schemas.document import Document
from schemas.values import (
    DATE_PATTERNS,
    date_readings,
    normalize_address,
    normalize_amount,
    normalize_category,
    normalize_codes,
    normalize_currency,
    normalize_text,
)

MAX_BLOCK_LINES = 5
MAX_JOIN_LINES = 3
# A trailing registration number: "(728515-N)", "862725-U", "(CO. NO. 113825-W)"
_REGISTRATION = re.compile(r"\s*(\(\s*[^()]*\d[^()]*\)?|\b\d{4,}\s?-?\s?[A-Z]\b)\s*$")
# two ASCII letters anywhere: a value worth offering (search stops at the second)
_TWO_LETTERS = re.compile(r"[A-Za-z][^A-Za-z]*[A-Za-z]")


@dataclass(frozen=True, slots=True)
class Candidate:
    value: str
    raw: str
    line: int
    line_end: int
    start: int
    end: int
    variant: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _date_candidates(doc: Document) -> list[Candidate]:
    out = []
    for i, line in enumerate(doc.lines):
        upper = line.text.upper()
        for kind, pattern in DATE_PATTERNS:
            for m in pattern.finditer(upper):
                readings = date_readings(kind, m)
                for iso, dayfirst in readings:
                    extra = {
                        "dayfirst": float(dayfirst),
                        "readings": float(len(readings)),
                    }
                    out.append(
                        Candidate(
                            iso,
                            line.text[m.start() : m.end()],
                            i,
                            i,
                            m.start(),
                            m.end(),
                            variant=[k for k, _ in DATE_PATTERNS].index(kind),
                            extra=extra,
                        )
                    )
    return out


def _amount_candidates(doc: Document) -> list[Candidate]:
    out = []
    for i, line in enumerate(doc.lines):
        for m in AMOUNT_PATTERN.finditer(line.text.upper()):
            has_decimals = "." in m.group("num")
            if not (has_decimals or m.group("cur")):
                continue
            value = normalize_amount(m.group(0))
            if value is not None:
                extra = {
                    "currency": float(bool(m.group("cur"))),
                    "decimals": float(has_decimals),
                }
                out.append(
                    Candidate(
                        value,
                        line.text[m.start() : m.end()],
                        i,
                        i,
                        m.start(),
                        m.end(),
                        variant=0,
                        extra=extra,
                    )
                )
        for start, end, text in forms.split_cents(line.text):
            value = normalize_amount(text)
            if value is not None:
                extra = {"currency": 1.0, "decimals": 0.0}
                out.append(Candidate(value, line.text[start:end], i, i, start, end, 1, extra))
    return out


def _line_variants(text: str) -> list[tuple[int, int, int]]:
    """(variant, start, end) spans of one line that could be a whole value."""
    spans = [(0, 0, len(text))]
    colon = text.find(":")
    if 0 <= colon < len(text) - 1:
        spans.append((1, colon + 1, len(text)))
    m = _REGISTRATION.search(text)
    if m and m.start() > 0:
        spans.append((2, 0, m.start()))
    return spans


def _form_variants(text: str) -> list[tuple[int, int, int]]:
    """Spans of form lines: segments between wide gaps and their "label: value" parts."""
    spans = []
    for start, end in forms.segments(text):
        spans.append((5, start, end))
        value_span = forms.after_label(text, start, end)
        if value_span:
            spans.append((6, *value_span))
    spans += [(8, start, end) for start, end in forms.id_tokens(text)]
    dash = text.rfind(" - ", text.find(":") + 1)
    if text.find(":") >= 0 and dash > 0:
        # "RE: Medical claim - Mrs. Golda Koelpin": the name follows the last dash
        spans.append((6, dash + 3, len(text)))
    return spans


def _text_candidates(doc: Document) -> list[Candidate]:
    out = []
    texts = [line.text for line in doc.lines]
    for i, text in enumerate(texts):
        for variant, start, end in _line_variants(text) + _form_variants(text):
            value = normalize_text(text[start:end])
            if value and (_TWO_LETTERS.search(value) or variant == 8):
                out.append(Candidate(value, text[start:end], i, i, start, end, variant))
                for name in forms.name_readings(value) if variant in (1, 5, 6) else []:
                    out.append(Candidate(name, text[start:end], i, i, start, end, 7))
        for n in range(2, MAX_JOIN_LINES + 1):
            if i + n > len(texts):
                break
            joined = " ".join(texts[i : i + n])
            stripped = _REGISTRATION.sub("", joined)
            for variant, raw in ((3, joined), (4, stripped)):
                value = normalize_text(raw)
                if value and _TWO_LETTERS.search(value):
                    out.append(
                        Candidate(
                            value,
                            raw,
                            i,
                            i + n - 1,
                            0,
                            len(texts[i + n - 1]),
                            variant,
                            extra={"joined": float(n)},
                        )
                    )
    return out


def _address_candidates(doc: Document) -> list[Candidate]:
    out = []
    texts = [line.text.strip().rstrip(",") for line in doc.lines]
    full = [line.text for line in doc.lines]
    for i in range(len(texts)):
        for n in range(1, MAX_BLOCK_LINES + 1):
            if i + n > len(texts):
                break
            raw = ", ".join(texts[i : i + n])
            value = normalize_address(raw)
            if value and _TWO_LETTERS.search(value):
                out.append(Candidate(value, raw, i, i + n - 1, 0, len(full[i + n - 1]), n))
    return out


def _code_candidates(doc: Document) -> list[Candidate]:
    out = []
    for i, line in enumerate(doc.lines):
        upper = line.text.upper()
        for variant, start, end in _line_variants(upper):
            codes = CODE_PATTERN.findall(upper[start:end])
            value = normalize_codes(",".join(codes))
            if value:
                out.append(
                    Candidate(
                        value,
                        line.text[start:end],
                        i,
                        i,
                        start,
                        end,
                        variant,
                        extra={"n_codes": float(len(codes))},
                    )
                )
    for first, last, codes in forms.code_runs([line.text for line in doc.lines]):
        value = normalize_codes(",".join(codes))
        if value:
            raw = "\n".join(line.text for line in doc.lines[first : last + 1])
            extra = {"n_codes": float(len(codes)), "joined": float(last - first + 1)}
            out.append(Candidate(value, raw, first, last, 0, len(doc.lines[last].text), 9, extra))
    return out


def _spans(doc: Document, finder, normalizer) -> list[Candidate]:  # type: ignore[no-untyped-def]
    out = []
    for i, line in enumerate(doc.lines):
        for start, end, text in finder(line.text):
            value = normalizer(text)
            if value:
                out.append(Candidate(value, line.text[start:end], i, i, start, end))
    return out


def _currency_candidates(doc: Document) -> list[Candidate]:
    return _spans(doc, forms.currencies, normalize_currency)


def _category_candidates(doc: Document) -> list[Candidate]:
    # the upstream claim type, when given, is a candidate like any word on the page
    out = _spans(doc, forms.categories, normalize_category)
    if doc.claim_type:
        out.append(Candidate(doc.claim_type, doc.claim_type, 0, 0, 0, 0, variant=1))
    return out


_GENERATORS = {
    "currency": _currency_candidates,
    "category": _category_candidates,
    "date": _date_candidates,
    "amount": _amount_candidates,
    "text": _text_candidates,
    "address": _address_candidates,
    "codes": _code_candidates,
}


def candidates_for(shape: Shape, document: Document) -> list[Candidate]:
    """Every candidate value of `shape` in `document`, in reading order."""
    return _GENERATORS[shape](document)
