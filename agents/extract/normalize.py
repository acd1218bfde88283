"""Patterns that find values in document text; the normalisers moved to `schemas.values`.

The normalisers and the shape of each field are shared with rules, review and
feedback, which may not import `agents`, so they live in `schemas.values`; they are
re-exported here for code that still imports them from the extraction package.
What stays is only what extraction needs: patterns for spotting candidates.
"""

from __future__ import annotations

import re

from schemas.catalogue import Shape
from schemas.values import (
    CURRENCY_PATTERN,
    DATE_PATTERNS,
    comparison_key,
    date_readings,
    is_valid,
    normalize,
    normalize_address,
    normalize_amount,
    normalize_category,
    normalize_codes,
    normalize_currency,
    normalize_date,
    normalize_text,
    shape_of,
)

__all__ = [
    "AMOUNT_PATTERN",
    "CODE_PATTERN",
    "CURRENCY_PATTERN",
    "DATE_PATTERNS",
    "DIGIT_CODE_PATTERN",
    "ICD10_PATTERN",
    "Shape",
    "comparison_key",
    "date_readings",
    "is_valid",
    "normalize",
    "normalize_address",
    "normalize_amount",
    "normalize_category",
    "normalize_codes",
    "normalize_currency",
    "normalize_date",
    "normalize_text",
    "shape_of",
]

AMOUNT_PATTERN = re.compile(
    r"(?<![\w.,])(?P<cur>(?:RM|MYR|USD|EUR|GBP|SGD|US\$|S\$|\$|€|£)\s?)?"
    r"(?P<num>-?\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|-?\d+(?:\.\d{1,2})?)(?![\d,]*\.?\d)"
)
ICD10_PATTERN = re.compile(r"(?<![A-Z0-9.])[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?(?![A-Z0-9])")
DIGIT_CODE_PATTERN = re.compile(r"(?<![\d.,$-])\d{5,18}(?![\d.,])")
CODE_PATTERN = re.compile(ICD10_PATTERN.pattern + "|" + DIGIT_CODE_PATTERN.pattern)
