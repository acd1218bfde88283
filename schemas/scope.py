"""What a review scope matches on: attributes of a review task, fixed when it is routed.

The review service lets a reviewer see a task only when one of their scopes matches it
(review/scopes.py). A scope names some of: the kind, the vendor, the claim type, an
amount band and a named queue; the task carries the same attributes as columns of
`review_tasks`, computed here from what routing saw (the extraction at that time, not
a reviewer's later correction), so that the filter is plain SQL on one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args

from schemas.fields import ClaimType, Extraction
from schemas.values import document_amount

CLAIM_TYPES: frozenset[str] = frozenset(get_args(ClaimType))


def vendor_key(name: str | None) -> str | None:
    """How vendors compare: case and runs of spaces do not matter."""
    key = " ".join((name or "").split()).casefold()
    return key or None


@dataclass(frozen=True)
class ScopeAttributes:
    vendor: str | None = None
    claim_type: str | None = None
    amount: float | None = None


def scope_attributes(*, claim_type: str | None, extraction: Extraction | None) -> ScopeAttributes:
    """The declared claim type wins over the extracted one; the amount is the sizing
    field routing reads (an invoice's total, a claim's claimed amount)."""
    values: Mapping[str, str | None] = (
        {name: f.value for name, f in extraction.fields.items()} if extraction else {}
    )
    extracted_type = (values.get("claim_type") or "").strip().lower()
    amount = document_amount(values)
    return ScopeAttributes(
        vendor=vendor_key(values.get("vendor_name")),
        claim_type=claim_type or (extracted_type if extracted_type in CLAIM_TYPES else None),
        amount=float(amount) if amount is not None else None,
    )
