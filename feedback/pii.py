"""Personal data out of training text: names, phone numbers, e-mail addresses, IBANs.

Each distinct value becomes a stable placeholder (`<PERSON_1>`, `<PHONE_2>`, …): the
same value gets the same placeholder in every line, every gold label and every
document of one export, so a tuned model still learns to copy the claimant's name
from the page to the answer — it just never sees a real one. The mapping back is
returned to the caller, who writes it to its own file, never into the export.

Phones are found by `phonenumbers` (Google's libphonenumber rules: a valid number for
the region, not any run of digits, so amounts, dates and invoice numbers stay) and
IBANs checked by `stdnum.iban` (country format and mod-97 check digits). Names have no
such library that works offline — NER models download their weights at run time — so
we scrub what we know is a person's name: the document's own `claimant_name` (labelled
or extracted) wherever it is printed, and a title followed by capitalised words
("Mr John Smith", "Dr. A. Lee"). Business names (vendor, provider) are not personal
data and stay: the extractor must learn them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import phonenumbers
from stdnum import iban

from schemas.document import LabelledDocument

PERSON_FIELDS = ("claimant_name",)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+(?:[A-Z][a-z]*\.?\s*){1,3}[A-Z][a-z]+")


@dataclass
class Scrubber:
    """Replaces personal data with placeholders, remembering each value's placeholder."""

    region: str = "US"  # how to read a phone number without a country code
    mapping: dict[str, str] = field(default_factory=dict)  # placeholder → original
    _seen: dict[tuple[str, str], str] = field(default_factory=dict)

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, value.strip())
        if key not in self._seen:
            n = sum(1 for k, _ in self._seen if k == kind) + 1
            self._seen[key] = f"<{kind}_{n}>"
            self.mapping[self._seen[key]] = key[1]
        return self._seen[key]

    def _sub(self, text: str, pattern: re.Pattern[str], kind: str, valid: Callable[[str], bool]) -> str:
        return pattern.sub(lambda m: self.placeholder(kind, m[0]) if valid(m[0]) else m[0], text)

    def _phones(self, text: str, keep: frozenset[str]) -> str:
        matches = phonenumbers.PhoneNumberMatcher(text, self.region, leniency=phonenumbers.Leniency.VALID)
        for m in reversed(list(matches)):  # from the end, so earlier offsets stay right
            if m.raw_string.strip() not in keep:
                text = text[: m.start] + self.placeholder("PHONE", m.raw_string) + text[m.end :]
        return text

    def scrub(self, text: str, *, names: Iterable[str] = (), keep: frozenset[str] = frozenset()) -> str:
        """`text` with personal data replaced; `keep`: values that only look like a phone
        number (a labelled invoice or policy number) and must stay."""
        for name in sorted({n.strip() for n in names if n and len(n.strip()) > 2}, key=len, reverse=True):
            token = self.placeholder("PERSON", name)
            text = re.sub(re.escape(name), token, text, flags=re.I)  # a placeholder holds no backslash
        text = self._sub(text, _EMAIL, "EMAIL", lambda _: True)
        text = self._sub(text, _IBAN, "IBAN", lambda s: iban.is_valid(s.replace(" ", "")))
        text = self._sub(text, _TITLED, "PERSON", lambda _: True)
        return self._phones(text, keep)

    def document(self, doc: LabelledDocument, *, extracted: Iterable[str] = ()) -> LabelledDocument:
        """`doc` with its lines and gold values scrubbed alike."""
        names = [*(doc.gold.get(f) or "" for f in PERSON_FIELDS), *extracted]
        keep = frozenset(v.strip() for k, v in doc.gold.items() if v and k not in PERSON_FIELDS)
        lines = [
            ln.model_copy(update={"text": self.scrub(ln.text, names=names, keep=keep)}) for ln in doc.lines
        ]
        gold = {k: None if v is None else self.scrub(v, names=names, keep=keep) for k, v in doc.gold.items()}
        return doc.model_copy(update={"lines": lines, "gold": gold})
