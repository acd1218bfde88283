"""Fields that choose the rule set must be trustworthy before they choose.

A claim's type picks which fields it must have and which graphs look at it
(`schemas.catalogue.SELECTORS`, `rules.context`). When upstream declares it, that
declaration decides. When upstream omits it, the value comes from the document's own
text, and a document could then pick the rules it is judged by. So an extracted
selector decides nothing unless it is both

- confident: at or above the routing threshold for the field, and
- verified: printed in the document as whole words, the check the LLM extractor
  applies to every other field (`agents.extract.llm_fields.printed`);

otherwise the document goes to a person with the reason `RULE_SET_UNVERIFIED`. A
claim whose type is neither declared nor read goes to review for the same reason.
"""

from __future__ import annotations

from agents.extract.llm_fields import printed
from agents.routing import RoutingPolicy
from schemas.catalogue import SELECTORS
from schemas.document import Document
from schemas.fields import Extraction
from schemas.verdicts import RuleReason

RULE_SET_UNVERIFIED = "rule_set_unverified"


def _declared(document: Document, name: str) -> str | None:
    return document.claim_type if name == "claim_type" else None


def unverified_selectors(
    *, document: Document, extraction: Extraction, policy: RoutingPolicy
) -> list[RuleReason]:
    """Reasons to send the document to review because its rule set was chosen by text
    that is not confident or not printed; empty when upstream chose, or the text may."""
    name = SELECTORS.get(document.kind)
    if name is None or _declared(document, name) is not None or extraction.failure:
        return []  # no selector, upstream chose, or extraction failed (already a reason)
    field = extraction.fields.get(name)
    limit = policy.threshold(document.kind, name)
    if field is None or field.value is None:
        why = f"{name} not declared upstream and not read from the document"
    elif field.confidence < limit:
        why = f"{name} {field.value!r} read with confidence {field.confidence:.2f} below {limit:.2f}"
    elif not printed(field.value, document.text):
        why = f"{name} {field.value!r} is not printed in the document"
    else:
        return []
    return [RuleReason(code=RULE_SET_UNVERIFIED, message=f"{why}; it would choose the rules", rule="routing")]
