"""Values a field took in training: a learnt list of known vendors (and of boilerplate),
and a lexicon from identifiers printed on a document to the values it carried.

Receipts come from recurring vendors, so "this value was the vendor on other training
receipts" is strong evidence, and "this value was offered on many receipts but was
never the vendor" ("TAX INVOICE", "THANK YOU") is strong evidence against. Both are
counted over training documents only. On a training document the document itself is
left out of the counts (leave-one-out): otherwise every right candidate would look
known and the classifier would learn a feature that never fires on new documents.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agents.extract.candidates import Candidate
from schemas.catalogue import Shape
from schemas.values import comparison_key

# Learnt lists are for the issuer of a document (its name, its address): those recur
# across the documents one source sends and are what its printed identifiers stand
# for. A claimant's name does not: on claims, a provider's phone number voted for the
# provider's other patients and cost 15 points of claimant accuracy.
SHAPES: frozenset[Shape] = frozenset({"text", "address"})
ISSUER_PREFIXES = ("vendor", "provider", "supplier", "merchant", "issuer", "payee")


def learns_values(name: str, shape: Shape) -> bool:
    """Whether field `name` gets a gazetteer and an identifier lexicon."""
    return shape in SHAPES and name.startswith(ISSUER_PREFIXES)


COLUMNS = ("gold_seen", "offered_seen", "gold_share", "lexicon_backed")


@dataclass(frozen=True, slots=True)
class Gazetteer:
    gold: dict[str, int]  # comparison key -> training documents where it was the value
    offered: dict[str, int]  # comparison key -> training documents offering it

    @classmethod
    def learn(cls, documents: Iterable[tuple[str | None, Sequence[str | None]]]) -> Gazetteer:
        """From (gold key, candidate keys) per training document."""
        gold: Counter[str] = Counter()
        offered: Counter[str] = Counter()
        for gold_key, keys in documents:
            if gold_key is not None:
                gold[gold_key] += 1
            offered.update({k for k in keys if k is not None})
        return cls(dict(gold), dict(offered))

    def columns(
        self,
        keys: Sequence[str | None],
        *,
        backed: Mapping[str, float] | None = None,
        own_gold: str | None = None,
        own: bool = False,
    ) -> np.ndarray:
        """One row per candidate key; `backed`: lexicon votes of this document's
        identifiers per key; `own` marks a training document (left out)."""
        rows = []
        backed = backed or {}
        for k in keys:
            if k is None:
                rows.append((0.0, 0.0, 0.0, 0.0))
                continue
            g = self.gold.get(k, 0) - (own and k == own_gold)
            o = self.offered.get(k, 0) - own
            rows.append((g, o, g / (o + 1.0), backed.get(k, 0.0)))
        return np.asarray(rows, dtype=np.float32).reshape(len(keys), len(COLUMNS))


# Long digit runs: GST, company registration and phone numbers identify a vendor (and
# often its branch) far better than its OCR'd name, which varies from print to print.
_IDENTIFIER = re.compile(r"\d[\d\- ]{4,}\d")
_NOT_DIGIT = re.compile(r"\D")
LEXICON_VARIANT = 10


def identifiers(texts: Sequence[str]) -> list[tuple[int, str]]:
    """(line, digits) of every identifier-like digit run of 6 to 16 digits."""
    out = []
    for i, text in enumerate(texts):
        for m in _IDENTIFIER.finditer(text):
            digits = _NOT_DIGIT.sub("", m.group())
            if 6 <= len(digits) <= 16:
                out.append((i, digits))
    return out


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Identifiers printed on training documents -> the field's values on them.

    A new document printing a known GST number gets that vendor's name (and address) as
    extra candidates, even when OCR garbled or dropped them on this print. The ranker
    still decides: the candidate carries how many votes and identifiers back it.
    """

    votes: dict[str, dict[str, int]]

    @classmethod
    def learn(cls, documents: Iterable[tuple[str | None, Sequence[tuple[int, str]]]]) -> Lexicon:
        """From (gold value, identifiers) per training document."""
        votes: dict[str, Counter[str]] = {}
        for gold, ids in documents:
            if gold is None:
                continue
            for ident in {d for _, d in ids}:
                votes.setdefault(ident, Counter())[gold] += 1
        return cls({k: dict(v) for k, v in votes.items()})

    def candidates(
        self,
        texts: Sequence[str],
        ids: Sequence[tuple[int, str]],
        *,
        on_page: frozenset[str | None] = frozenset(),
        own_gold: str | None = None,
        own: bool = False,
    ) -> list[Candidate]:
        """Values voted for by this document's identifiers; `on_page`: comparison keys of
        the page's own candidates; `own`: leave the document out."""
        found: dict[str, list[int]] = {}  # value -> [votes, identifiers, first line]
        seen: set[str] = set()
        for line, ident in ids:
            if ident in seen:
                continue
            seen.add(ident)
            for value, n in self.votes.get(ident, {}).items():
                n -= int(own and value == own_gold)
                if n > 0:
                    entry = found.setdefault(value, [0, 0, line])
                    entry[0] += n
                    entry[1] += 1
        total = sum(e[0] for e in found.values())
        return [
            # the evidence line is the source: the value itself may not be on the page
            Candidate(
                value,
                texts[line],
                line,
                line,
                0,
                len(texts[line]),
                LEXICON_VARIANT,
                extra={
                    "lexicon_votes": float(v),
                    "lexicon_ids": float(k),
                    "lexicon_share": v / total,
                    "lexicon_on_page": float(comparison_key(value) in on_page),
                },
            )
            for value, (v, k, line) in found.items()
        ]
