"""Span finders for form-like documents (claim forms, statements, letters).

Forms pack several labelled values on one line ("Patient: Koelpin, Golda    DOB: …"),
print names surname first, and spread code lists over table rows. These helpers find
such spans; `candidates` turns them into candidates. They return offsets and values
only, so they stay independent of the candidate type.
"""

from __future__ import annotations

import re

from agents.extract.normalize import DIGIT_CODE_PATTERN, ICD10_PATTERN
from schemas.values import CURRENCY_PATTERN

_GAP = re.compile(r"\s{2,}|\s+\|\s+")
_ID = re.compile(r"(?<![A-Z0-9-])(?=[A-Z0-9-]*\d[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{4,}(?![A-Z0-9-])")
_HONORIFIC = re.compile(r"^(MR|MRS|MS|MISS|DR|PROF)\.?\s+", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z][A-Za-z'\-]+")
_SPLIT_CENTS = re.compile(r"\$\s?(\d{1,7}) (\d{2})(?![\d.])")
_CATEGORIES = ("auto", "health", "property")


def segments(text: str) -> list[tuple[int, int]]:
    """Spans of a line separated by wide gaps or bars; empty when the line is one piece."""
    cuts = [(m.start(), m.end()) for m in _GAP.finditer(text.rstrip())]
    if not cuts:
        return []
    bounds = [0] + [p for cut in cuts for p in cut] + [len(text.rstrip())]
    return [(bounds[k], bounds[k + 1]) for k in range(0, len(bounds), 2) if bounds[k + 1] > bounds[k]]


def after_label(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The value part of a "Label: value" span."""
    colon = text.find(":", start, end)
    if colon < 0 or not text[colon + 1 : end].strip():
        return None
    return colon + 1, end


def name_readings(value: str) -> list[str]:
    """ "First Last" readings of a person's name: "KOELPIN, GOLDA T" and
    "Mrs. Golda Torie Koelpin" both read as "Golda Koelpin"."""
    text = _HONORIFIC.sub("", value.strip())
    if "," in text:
        last, _, rest = text.partition(",")
        words = _NAME.findall(rest)
        if words and len(_NAME.findall(last)) <= 2:
            return [f"{words[0]} {last.strip()}"]
        return []
    words = _NAME.findall(text)
    if 2 <= len(words) <= 4 and len(words) == len(text.split()):
        return [f"{words[0]} {words[-1]}"] if len(words) > 2 or text != value else []
    return []


def id_tokens(text: str) -> list[tuple[int, int]]:
    """Identifier-looking tokens (policy and member numbers): two digits or more."""
    return [(m.start(), m.end()) for m in _ID.finditer(text.upper())]


def split_cents(text: str) -> list[tuple[int, int, str]]:
    """Amounts printed in form boxes with the cents apart: "$ 234 71"."""
    return [(m.start(), m.end(), f"{m.group(1)}.{m.group(2)}") for m in _SPLIT_CENTS.finditer(text)]


def first_codes(lines: list[str], pattern: re.Pattern[str]) -> list[str | None]:
    """The first code of `pattern` on each line (None where there is none)."""
    out: list[str | None] = []
    for text in lines:
        m = pattern.search(text.upper())
        out.append(m.group(0) if m else None)
    return out


# The longest code run a field spans: a claim form lists at most 12 diagnosis codes
# and 6 service lines a page (the shipped data's longest run is 11 rows). Without a
# cap every start of a long table begins a run to its end: candidates grow with the
# square of the rows and their text with the cube (a 300-row claim took 20 s and
# 400 MB, 3000 rows more memory than the machine had).
MAX_RUN_ROWS = 24


def code_runs(
    lines: list[str], *, max_gap: int = 1, max_rows: int = MAX_RUN_ROWS
) -> list[tuple[int, int, list[str]]]:
    """(first line, last line, codes) for runs of table rows that each start a code,
    for ICD-10 and digit codes separately; a run tolerates `max_gap` code-less rows
    and spans at most `max_rows` rows."""
    runs = []
    for pattern in (ICD10_PATTERN, DIGIT_CODE_PATTERN):
        firsts = first_codes(lines, pattern)
        for i, code in enumerate(firsts):
            if code is None:
                continue
            codes, gap = [code], 0
            runs.append((i, i, list(codes)))
            for j in range(i + 1, min(len(lines), i + max_rows)):
                if firsts[j] is None:
                    gap += 1
                    if gap > max_gap:
                        break
                    continue
                gap = 0
                codes.append(firsts[j] or "")
                runs.append((i, j, list(codes)))
    return runs


def currencies(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(1)) for m in CURRENCY_PATTERN.finditer(text.upper())]


def categories(text: str) -> list[tuple[int, int, str]]:
    upper = text.lower()
    return [(m.start(), m.end(), c) for c in _CATEGORIES for m in re.finditer(rf"\b{c}\b", upper)]
