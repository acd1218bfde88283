"""Reason codes: why a document went to review or was rejected, one vocabulary.

Routing (`agents.routing`), the decision graphs (`rules/graphs/*.json`) and the rules
evaluator all emit codes from `REASONS`: lowercase snake_case, each with the label a
reviewer reads. The rules lint (`rules.lint.lint_codes`) refuses a graph that emits a
code missing here, so a new rule needs its code declared first. Reasons stored before
the vocabulary was one (upper case from the graphs) are read through `canonical`.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # routing and the common quality graph
    "low_confidence": "A field was read with low confidence",
    "high_risk": "Triage rates the document high risk",
    "triage_failed": "The triage classifier failed",
    "extraction_failed": "Field extraction failed",
    "kind_mismatch": "Declared kind differs from the predicted kind",
    "unparseable_value": "A value could not be read as a number or date",
    "rules_error": "A decision graph failed",
    "replay_rereview": "Replayed: a person decides again (the earlier decision was a reviewer's)",
    # invoices
    "missing_vendor_name": "Vendor name missing",
    "missing_invoice_number": "Invoice number missing",
    "missing_issue_date": "Issue date missing",
    "missing_total": "Total missing",
    "negative_total": "Total is negative",
    "total_not_subtotal_plus_tax": "Total differs from subtotal + tax",
    "total_not_sum_of_lines": "Total differs from the sum of line items",
    "approval_required": "Total above the approval threshold",
    "currency_not_allowed": "Currency not accepted",
    "currency_not_allowed_for_vendor": "Currency not agreed with the vendor",
    "due_before_issue": "Due date before issue date",
    "issue_date_in_future": "Issue date in the future",
    "duplicate_invoice": "Duplicate invoice",
    "po_not_found": "Purchase order not found",
    "po_vendor_mismatch": "Purchase order of another vendor",
    "po_currency_mismatch": "Purchase order in another currency",
    "po_amount_exceeded": "Total above the purchase order amount",
    # claims
    "missing_policy_number": "Policy number missing",
    "missing_incident_date": "Incident date missing",
    "missing_claimed_amount": "Claimed amount missing",
    "missing_vin": "Vehicle identification number missing",
    "missing_diagnosis_codes": "Diagnosis codes missing",
    "non_billable_icd10": "Diagnosis code not billable (ICD-10-CM)",
    "policy_not_found": "No policy on file",
    "policy_not_yet_active": "Incident before the policy start",
    "policy_expired": "Incident after the policy end",
    "incident_in_future": "Incident date in the future",
    "below_deductible": "Claim does not exceed the deductible",
    "exceeds_coverage": "Claim exceeds the coverage limit",
    "theft_without_police_report": "Theft without a police report",
    "duplicate_claim": "Duplicate claim",
}


def canonical(code: str) -> str:
    """The vocabulary's spelling of `code` (stored reasons may predate it)."""
    return code.strip().lower()


def is_known(code: str) -> bool:
    return code in REASONS


def reason_label(code: str) -> str:
    """What a reviewer reads for `code`; an unknown code is shown as it is."""
    return REASONS.get(canonical(code), code)
