"""Field schemas: the typed shape of what we extract from invoices and claims.

Which fields a kind has and what each is (mandatory, amount, date, code) is declared
once in `schemas.catalogue`; these models give those fields types and descriptions.

Every extracted field carries its value, a confidence in [0, 1] and where in the
document it came from, so reviewers can see the evidence and routing can weigh it.
Values are normalised text (ISO 8601 dates, plain decimal amounts, upper-case codes)
so that comparison, rules and training all see one spelling.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.catalogue import ClaimType, DocumentKind, field_names

__all__ = [
    "CLAIM_FIELDS",
    "INVOICE_FIELDS",
    "ClaimFields",
    "ClaimType",
    "DocumentKind",
    "ExtractedField",
    "Extraction",
    "FieldSource",
    "InvoiceFields",
    "LineItem",
    "field_names",
]


class FieldSource(BaseModel):
    """Where a value was read: a line of the document text and a span in it."""

    model_config = ConfigDict(frozen=True)

    page: int = Field(default=0, ge=0)
    line: int | None = Field(default=None, ge=0, description="0-based line index")
    start: int | None = Field(default=None, ge=0, description="char offset in the line")
    end: int | None = Field(default=None, ge=0)
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="x0, y0, x1, y1 in page pixels when layout is known"
    )


class ExtractedField(BaseModel):
    """One extracted value with its evidence."""

    model_config = ConfigDict(frozen=True)

    value: str | None = Field(description="normalised value; None when absent")
    raw: str | None = Field(default=None, description="text as it appears in the document")
    confidence: float = Field(ge=0.0, le=1.0)
    source: FieldSource | None = None


class LineItem(BaseModel):
    description: ExtractedField | None = None
    quantity: ExtractedField | None = None
    unit_price: ExtractedField | None = None
    amount: ExtractedField | None = None


class InvoiceFields(BaseModel):
    """Supplier invoices and receipts."""

    vendor_name: ExtractedField | None = None
    vendor_address: ExtractedField | None = None
    invoice_number: ExtractedField | None = None
    issue_date: ExtractedField | None = None
    due_date: ExtractedField | None = None
    currency: ExtractedField | None = None
    subtotal: ExtractedField | None = None
    tax: ExtractedField | None = None
    total: ExtractedField | None = None
    po_number: ExtractedField | None = None
    line_items: list[LineItem] = Field(default_factory=list)


class ClaimFields(BaseModel):
    """Insurance claims: auto and health share the header, differ in evidence."""

    claimant_name: ExtractedField | None = None
    policy_number: ExtractedField | None = None
    incident_date: ExtractedField | None = None
    claim_type: ExtractedField | None = None
    claimed_amount: ExtractedField | None = None
    currency: ExtractedField | None = None
    diagnosis_codes: ExtractedField | None = Field(
        default=None, description="health: ICD-10-CM codes, comma separated"
    )
    procedure_codes: ExtractedField | None = Field(
        default=None,
        description="health: procedure codes (SNOMED/CPT), comma separated",
    )
    provider_name: ExtractedField | None = None
    vehicle: ExtractedField | None = Field(default=None, description="auto: make model year")
    vin: ExtractedField | None = None
    police_report: ExtractedField | None = Field(
        default=None, description="auto: YES/NO or the report number"
    )


# The typed models above and the catalogue name the same fields in the same order
# (tests/unit/test_catalogue.py); the catalogue is where a field is declared.
INVOICE_FIELDS: tuple[str, ...] = field_names("invoice")
CLAIM_FIELDS: tuple[str, ...] = field_names("claim")


class Extraction(BaseModel):
    """What an extractor returns for one document.

    `fields` is the flat, kind-specific view that rules, routing and review share;
    the typed `InvoiceFields`/`ClaimFields` above define which keys are valid.
    """

    kind: DocumentKind
    fields: dict[str, ExtractedField] = Field(default_factory=dict)
    line_items: list[LineItem] = Field(default_factory=list)
    model_version: str
    failure: str | None = Field(
        default=None,
        description="why extraction could not be trusted (sends to review)",
    )
    notes: dict[str, str] = Field(
        default_factory=dict,
        description="extractor bookkeeping kept out of `fields`: the LLM's reasoning, "
        "tokens, cost, cache hit; never read by rules or routing",
    )

    def value(self, name: str) -> str | None:
        f = self.fields.get(name)
        return f.value if f else None

    def business_key(self) -> str | None:
        """The identity duplicates share: same vendor and number, or same claim."""
        v = self.value
        if self.kind == "invoice":
            vendor = (v("vendor_name") or "").strip().lower()
            if not vendor:
                return None
            if v("invoice_number"):
                return f"invoice|{vendor}|{v('invoice_number')}"
            if v("issue_date") and v("total"):
                return f"receipt|{vendor}|{v('issue_date')}|{v('total')}"
            return None
        if v("policy_number") and v("incident_date"):
            return f"claim|{v('policy_number')}|{v('incident_date')}|{v('claimed_amount')}"
        return None

    def confidence(self, name: str) -> float:
        f = self.fields.get(name)
        return f.confidence if f else 0.0
