"""Turn the model's raw values into our `ExtractedField`s.

The model copies text; we normalise it with the same normalisers the local
extractor, gold labels and rules use, and we check it against the document:
- a value no normaliser accepts becomes None with confidence 0 (never guessed);
- a value not printed in the document as whole words (grounding fails) keeps at most half its
  confidence, which is below every default routing threshold, so it goes to review;
  the claim type is no exception: it picks the rule set (`schemas.catalogue.SELECTORS`),
  so it counts as grounded only when printed or when upstream declared the same value;
- the evidence (`source`) is found by us in the document, not claimed by the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from schemas.document import Document
from schemas.fields import ExtractedField, FieldSource
from schemas.values import normalize

UNGROUNDED_FACTOR = 0.5
_NOISE = re.compile(r"[\s,]+")
_WORD = re.compile(r"\w+")


def _key(text: str) -> str:
    # OCR splits lines where labels put commas; neither changes what is printed
    return _NOISE.sub("", text).casefold()


def _words(text: str) -> str:
    """Words only, space-joined and padded, so that a value counts as printed only as
    whole words ("0" is not printed in "2024") while punctuation, spacing and line
    breaks do not matter. Conservative: "RM 12.50" is not found in "RM12.50"."""
    return " " + " ".join(_WORD.findall(text.casefold())) + " "


def printed(value: str, text: str) -> bool:
    """Whether `value` is printed in `text` as whole words (see `_words`)."""
    wanted = _words(value)
    return wanted.strip() != "" and wanted in _words(text)


@dataclass
class FieldReport:
    """What went wrong per field, for the extraction's notes."""

    invalid: list[str] = field(default_factory=list)
    ungrounded: list[str] = field(default_factory=list)


def build_fields(
    *,
    document: Document,
    raw_values: Mapping[str, str | None],
    probabilities: Mapping[str, float] | None,
    fallback_confidence: float,
) -> tuple[dict[str, ExtractedField], FieldReport]:
    report = FieldReport()
    page_words = _words(document.text)
    fields: dict[str, ExtractedField] = {}
    for name, raw in raw_values.items():
        confidence = probabilities.get(name, 0.0) if probabilities is not None else fallback_confidence
        if raw is None or not raw.strip():
            fields[name] = ExtractedField(value=None, raw=None, confidence=confidence)
            continue
        value = normalize(name, raw)
        if value is None:
            report.invalid.append(name)
            fields[name] = ExtractedField(value=None, raw=raw, confidence=0.0)
            continue
        grounded = _words(raw) in page_words or _declared(document, name, value)
        if not grounded:
            report.ungrounded.append(name)
            confidence *= UNGROUNDED_FACTOR
        fields[name] = ExtractedField(
            value=value, raw=raw, confidence=min(1.0, max(0.0, confidence)), source=locate(document, raw)
        )
    return fields, report


def _declared(document: Document, name: str, value: str) -> bool:
    """Upstream said so: the claim type the sender declared needs no printed evidence."""
    return name == "claim_type" and value == document.claim_type


def locate(document: Document, raw: str) -> FieldSource | None:
    """The first line that prints `raw`, with its character span when exact."""
    wanted = _key(raw)
    if not wanted:
        return None
    for i, line in enumerate(document.lines):
        start = line.text.find(raw)
        if start >= 0:
            return FieldSource(page=line.page, line=i, start=start, end=start + len(raw), bbox=line.bbox)
        if wanted in _key(line.text):
            return FieldSource(page=line.page, line=i, bbox=line.bbox)
    return None
