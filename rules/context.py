"""The engine input: one JSON object built from a document's extraction, triage and facts.

The decision graphs read only this shape (`build_context` below; its keys are the
graphs' vocabulary), so anything the engine cannot compute itself (ICD-10-CM lookups, number parsing) is
computed here first and handed in as a plain value. Which fields are amounts, dates
and mandatory comes from the catalogue (`schemas.catalogue`), the parsers from
`schemas.values`, and the limits the graphs compare with from the policy (`limits`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

from schemas.catalogue import AMOUNT_FIELDS, DATE_FIELDS, DEFAULT_INVOICE_SUBTYPE, mandatory
from schemas.document import Document
from schemas.fields import Extraction
from schemas.limits import RuleLimits
from schemas.values import parse_amount, parse_date
from schemas.verdicts import ReferenceFacts, TriageResult

REFERENCE_AMOUNTS = frozenset({"coverage_limit", "deductible", "amount", "approval_threshold"})
_THEFT = re.compile(r"\b(theft|stolen|steal|burglar\w*)\b", re.IGNORECASE)
_NO_REPORT = re.compile(r"^\s*(no|none|n/?a|false|0|\?)?\s*$", re.IGNORECASE)
_CODE_SPLIT = re.compile(r"[,;\s]+")

IcdBillable = Callable[[str], bool]


def _number(value: str | None) -> float | None:
    """An amount as the engine reads it (a JSON number); ValueError when unreadable."""
    amount = parse_amount(value)
    return None if amount is None else float(amount)


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return value


def _reference(reference: ReferenceFacts) -> dict[str, Any]:
    out: dict[str, Any] = {"duplicate_of": reference.duplicate_of}
    for name in ("policy", "vendor", "purchase_order"):
        facts = getattr(reference, name)
        if facts is None:
            out[name] = None
            continue
        out[name] = {
            k: (float(v) if k in REFERENCE_AMOUNTS and v is not None else _iso(v)) for k, v in facts.items()
        }
    return out


def _fields(extraction: Extraction) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    unparseable: list[str] = []
    for name, field in extraction.fields.items():
        try:
            if name in AMOUNT_FIELDS:
                values[name] = _number(field.value)
            elif name in DATE_FIELDS:
                values[name] = parse_date(field.value)
            else:
                values[name] = field.value
        except ValueError:
            values[name] = None
            unparseable.append(name)
    return values, unparseable


def _line_items_sum(extraction: Extraction) -> float | None:
    amounts = [li.amount.value for li in extraction.line_items if li.amount is not None]
    if not amounts or any(a is None for a in amounts):
        return None
    try:
        return round(sum(_number(a) or 0.0 for a in amounts), 2)
    except ValueError:
        return None


def split_codes(value: str | None) -> list[str]:
    return [c.strip().upper() for c in _CODE_SPLIT.split(value or "") if c.strip()]


def _non_billable(codes: Iterable[str], is_billable: IcdBillable) -> list[str]:
    return [c for c in codes if not is_billable(c)]


def _police_report(value: str | None) -> bool | None:
    if value is None:
        return None
    return not _NO_REPORT.match(value)


def _subtype(document: Document) -> str | None:
    default = DEFAULT_INVOICE_SUBTYPE if document.kind == "invoice" else None
    return document.metadata.get("subtype", default)


def _claim_type(document: Document, values: dict[str, Any]) -> str | None:
    if document.claim_type is not None:
        return document.claim_type
    declared = values.get("claim_type")
    return str(declared).lower() if declared else None


def build_context(
    *,
    document: Document,
    extraction: Extraction,
    triage: TriageResult,
    reference: ReferenceFacts,
    now: datetime,
    is_billable: IcdBillable,
    limits: RuleLimits | None = None,
) -> dict[str, Any]:
    """Everything one document's graphs may read, as JSON-ready values."""
    values, unparseable = _fields(extraction)
    codes = split_codes(extraction.value("diagnosis_codes"))
    non_billable = _non_billable(codes, is_billable)
    required = mandatory(document.kind)  # their confidence gates automation
    subtype = _subtype(document)
    claim_type = _claim_type(document, values)
    confidences = {n: f.confidence for n, f in extraction.fields.items()}
    present = [confidences[n] for n in required if values.get(n) is not None]
    incident_type = str(values.get("incident_type") or "")
    return {
        "document": {
            "kind": document.kind,
            "subtype": subtype,
            "claim_type": claim_type,
            # every field this document must have (its claim type or subtype adds some)
            "mandatory": list(mandatory(document.kind, claim_type if document.kind == "claim" else subtype)),
        },
        "limits": (limits or RuleLimits()).as_input(),
        "now": now.astimezone(UTC).isoformat(),
        "today": now.astimezone(UTC).date().isoformat(),
        "fields": values,
        "confidence": confidences,
        "line_items": {
            "count": len(extraction.line_items),
            "sum": _line_items_sum(extraction),
        },
        "extraction": {
            "failure": extraction.failure,
            "model_version": extraction.model_version,
        },
        "triage": {
            "predicted_kind": triage.predicted_kind,
            "risk": triage.risk,
            "failure": triage.failure,
        },
        "reference": _reference(reference),
        "features": {
            "min_confidence": min(present) if present else None,
            "unparseable": ", ".join(unparseable) or None,
            "diagnosis_codes": codes,
            "codes_billable": (not non_billable) if codes else None,
            "non_billable_codes": ", ".join(non_billable) or None,
            "theft": bool(_THEFT.search(incident_type) or _THEFT.search(document.text)),
            "police_report": _police_report(values.get("police_report")),
        },
    }
