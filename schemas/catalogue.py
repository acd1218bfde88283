"""The catalogue: every document kind, its fields, and what each field is.

Extraction, rules, routing, review and feedback all read fields from here, so they
cannot disagree on which fields a kind has, which a document must have, or which
are amounts, dates or codes:

- `shape` says how a value is normalised and parsed (`schemas.values`).
- `mandatory`: every document of the kind needs the field, and its confidence gates
  automation (routing, the rules' confidence check, the routing fit, the promotion
  gate, the extraction prompt).
- `mandatory_for`: only documents of these variants need it (a claim's type, an
  invoice's subtype; `variant` below); the mandatory-fields graphs read the whole
  list for a document from the rules input (`document.mandatory`), so they say only
  what a missing field is called.
- `sizes`: the amount that sizes a document (review priority, second review).

The typed models in `schemas.fields` carry the same names in the same order (a unit
test holds them together); descriptions stay there, where the LLM schema reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

DocumentKind = Literal["invoice", "claim"]
ClaimType = Literal["auto", "health", "property", "other"]
Shape = Literal["date", "amount", "codes", "address", "text", "currency", "category"]

KINDS: tuple[DocumentKind, ...] = ("invoice", "claim")
# What picks a document's variant: an invoice's `metadata["subtype"]` ("invoice" unless
# the sender says "receipt"), a claim's declared or extracted claim type.
INVOICE_SUBTYPES = ("invoice", "receipt")
DEFAULT_INVOICE_SUBTYPE = "invoice"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    shape: Shape = "text"
    mandatory: bool = False
    mandatory_for: frozenset[str] = frozenset()
    sizes: bool = False
    variant: bool = False  # its value is the claim type, which picks the claim's rules

    def required(self, variant: str | None) -> bool:
        return self.mandatory or (variant is not None and variant in self.mandatory_for)


CATALOGUE: Mapping[str, tuple[FieldSpec, ...]] = {  # keyed by DocumentKind
    "invoice": (
        FieldSpec("vendor_name", mandatory=True),
        FieldSpec("vendor_address", "address"),
        FieldSpec("invoice_number", mandatory_for=frozenset({"invoice"})),  # not on till receipts
        FieldSpec("issue_date", "date", mandatory=True),
        FieldSpec("due_date", "date"),
        FieldSpec("currency", "currency"),
        FieldSpec("subtotal", "amount"),
        FieldSpec("tax", "amount"),
        FieldSpec("total", "amount", mandatory=True, sizes=True),
        FieldSpec("po_number"),
    ),
    "claim": (
        # The claimant's name is shown and exported but decides nothing: no rule reads
        # it and the policy number identifies the insured (see docs/architecture.md).
        FieldSpec("claimant_name"),
        FieldSpec("policy_number", mandatory=True),
        FieldSpec("incident_date", "date", mandatory=True),
        FieldSpec("claim_type", "category", variant=True),
        FieldSpec("claimed_amount", "amount", mandatory=True, sizes=True),
        FieldSpec("currency", "currency"),
        FieldSpec("diagnosis_codes", "codes", mandatory_for=frozenset({"health"})),
        FieldSpec("procedure_codes", "codes"),
        FieldSpec("provider_name"),
        FieldSpec("vehicle"),
        FieldSpec("vin", mandatory_for=frozenset({"auto"})),
        FieldSpec("police_report"),
    ),
}


def specs(kind: DocumentKind) -> tuple[FieldSpec, ...]:
    return CATALOGUE[kind]


def field_names(kind: DocumentKind) -> tuple[str, ...]:
    """Scalar field names for a document kind, in schema order."""
    return tuple(f.name for f in CATALOGUE[kind])


def mandatory(kind: str, variant: str | None = None) -> tuple[str, ...]:
    """Fields a document of `kind` must have, in schema order; with `variant` (claim type
    or invoice subtype) also those that variant adds. Unknown kinds have none."""
    return tuple(f.name for f in CATALOGUE.get(kind, ()) if f.required(variant))


def conditional(kind: DocumentKind) -> tuple[FieldSpec, ...]:
    """Fields only some variants of `kind` must have."""
    return tuple(f for f in CATALOGUE[kind] if f.mandatory_for and not f.mandatory)


def fields_shaped(shape: Shape) -> frozenset[str]:
    """Every field of every kind with this shape (amounts, dates, codes...)."""
    return frozenset(f.name for fields in CATALOGUE.values() for f in fields if f.shape == shape)


# Derived views, computed once from the declaration above (plain data, no I/O).
MANDATORY: Mapping[str, tuple[str, ...]] = {kind: mandatory(kind) for kind in KINDS}
AMOUNT_FIELDS = fields_shaped("amount")
DATE_FIELDS = fields_shaped("date")
CODE_FIELDS = fields_shaped("codes")
# The amount that sizes a document, one per kind, in kind order.
SIZING_FIELDS: tuple[str, ...] = tuple(f.name for kind in KINDS for f in CATALOGUE[kind] if f.sizes)
SHAPES: Mapping[str, Shape] = {f.name: f.shape for kind in KINDS for f in CATALOGUE[kind]}
# The field whose value picks the rule set, per kind, when upstream does not say: a
# claim's type. Routing requires it confident and printed (agents/selectors.py).
SELECTORS: Mapping[str, str] = {kind: f.name for kind in KINDS for f in CATALOGUE[kind] if f.variant}
