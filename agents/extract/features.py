"""Features of a candidate: where it sits, what it looks like, what words surround it.

Features are computed in two steps so cross-validation stays cheap and honest:
`describe` turns all candidates of one shape in one document into a numeric matrix
plus context token sets once, and `Vocabulary` (learned per training fold, from that
fold only) turns the token sets into indicator columns. Layout comes from line boxes
when the document has them and falls back to reading order when it does not
(plain-text documents). Columns are built with NumPy over all candidates at once:
per-candidate Python tuples made feature building the extractor's largest cost.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from agents.extract import names
from agents.extract.candidates import Candidate
from agents.extract.gazetteer import identifiers
from schemas.document import Document

CONTEXTS = ("inside", "rest", "left", "prev", "next", "label")
_TOKEN = re.compile(r"[A-Z]{2,}|[#:%@$]")
_ALPHA_LINE = re.compile(r"[A-Za-z]{3,}")
_DIGITS = str.maketrans("", "", "0123456789")
_LETTER = re.compile(r"[^\W\d_]")
NUMERIC = (
    "line_idx",
    "line_rel",
    "from_end",
    "y_rel",
    "x0_rel",
    "x1_rel",
    "h_rel",
    "h_rank",
    "n_lines",
    "variant",
    "raw_len",
    "n_tokens",
    "digit_frac",
    "alpha_frac",
    "start_rel",
    "end_rel",
    "span_frac",
    "same_value",
    "value_order",
    "n_values",
    "log_value",
    "amount_rank",
    "is_max_amount",
    "below_frac",
    "dayfirst",
    "readings",
    "currency",
    "decimals",
    "joined",
    "n_codes",
    "alpha_line_rank",
    "year",
    "suffix_end",
    "suffix_any",
    "open_end",
    "boilerplate",
    "upper_frac",
    "next_registration",
    "next_suffix",
    "prev_suffix",
    "lexicon_votes",
    "lexicon_ids",
    "lexicon_share",
    "lexicon_on_page",
)
_EXTRAS = (
    ("dayfirst", -1.0),
    ("readings", 0.0),
    ("currency", -1.0),
    ("decimals", -1.0),
    ("joined", 1.0),
    ("n_codes", 0.0),
    ("lexicon_votes", 0.0),
    ("lexicon_ids", 0.0),
    ("lexicon_share", 0.0),
    ("lexicon_on_page", 0.0),
)

Context = tuple[frozenset[str], ...]


@lru_cache(maxsize=16384)
def tokens(text: str) -> frozenset[str]:
    # cached: the same lines and spans recur across candidates, fields and documents
    return frozenset(_TOKEN.findall(text.upper()))


@dataclass(frozen=True, slots=True)
class Described:
    """Features of a batch of candidates: one row of `numeric` and one context each."""

    numeric: np.ndarray
    context: list[Context]

    def __len__(self) -> int:
        return len(self.context)

    def take(self, rows: Sequence[int]) -> Described:
        return Described(self.numeric[list(rows)], [self.context[i] for i in rows])

    @staticmethod
    def concat(parts: Sequence[Described]) -> Described:
        if not parts:
            return Described(np.zeros((0, len(NUMERIC)), dtype=np.float32), [])
        return Described(np.concatenate([p.numeric for p in parts]), [c for p in parts for c in p.context])


class Layout:
    """Per-document geometry and tokens, computed once for all candidates of all fields."""

    def __init__(self, doc: Document) -> None:
        count = len(doc.lines)
        n = max(count, 1)
        self.n = n
        self.texts = [line.text for line in doc.lines]
        boxes = [line.bbox for line in doc.lines]
        page = doc.pages[0] if doc.pages else None
        have = page is not None and all(b is not None for b in boxes)
        if have and page is not None and count:
            w, h = page.width or 1.0, page.height or 1.0
            b = np.asarray(boxes, dtype=np.float64)
            self.y = ((b[:, 1] + b[:, 3]) / 2) / h
            self.x0 = b[:, 0] / w
            self.x1 = b[:, 2] / w
            heights = np.maximum(b[:, 3] - b[:, 1], 1.0)
            self.h = heights / float(np.median(heights))
        else:
            self.y = np.arange(count) / n
            self.x0 = np.zeros(count)
            self.x1 = np.ones(count)
            self.h = np.ones(count)
        self.h_rank = np.empty(count)
        self.h_rank[np.argsort(-self.h, kind="stable")] = np.arange(count)
        self.tokens = [tokens(t) for t in self.texts]
        self.left = (
            self._left_tokens(np.asarray(boxes, dtype=np.float64))
            if have and count
            else [frozenset()] * count
        )
        self.alpha_rank = np.full(count, -1.0)
        alpha = [i for i, t in enumerate(self.texts) if _ALPHA_LINE.search(t)]
        self.alpha_rank[alpha] = np.arange(len(alpha))
        self.line_len = np.maximum(np.fromiter(map(len, self.texts), dtype=np.float64, count=count), 1.0)
        colons = [t.find(":") for t in self.texts]
        self.colon = np.asarray(colons, dtype=np.int64)
        upper = [t.upper() for t in self.texts]
        suffix = [float(names.has_suffix(t)) for t in upper]
        registration = [float(names.is_registration(t)) for t in upper]
        # what follows or precedes a line: a registration number or business suffix
        # below a line says "the name ends here"; a suffix above says it ended before
        self.next_registration = np.asarray([*registration[1:], 0.0])
        self.next_suffix = np.asarray([*suffix[1:], 0.0])
        self.prev_suffix = np.asarray([0.0, *suffix[:-1]])
        self.label = [
            tokens(t[:c]) if c >= 0 else frozenset() for t, c in zip(self.texts, colons, strict=True)
        ]

    @cached_property
    def identifiers(self) -> list[tuple[int, str]]:
        """Identifier-like digit runs (GST, registration, phone numbers) per line."""
        return identifiers(self.texts)

    def _left_tokens(self, b: np.ndarray) -> list[frozenset[str]]:
        """Words on the same visual row to the left of each line: the label of a value box."""
        top, bottom = b[:, 1], b[:, 3]
        overlap = np.minimum(bottom[:, None], bottom[None, :]) - np.maximum(top[:, None], top[None, :])
        height = bottom - top
        near = (b[None, :, 2] <= b[:, None, 0] + 5) & (
            overlap > 0.5 * np.minimum(height[:, None], height[None, :])
        )
        np.fill_diagonal(near, False)
        empty: frozenset[str] = frozenset()
        return [empty.union(*(self.tokens[j] for j in np.flatnonzero(row))) for row in near]


def _per_value(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(index of each candidate's value, per distinct value: count, order, log, rank, max, year)."""
    order: dict[str, int] = {}
    index = np.fromiter((order.setdefault(v, len(order)) for v in values), dtype=np.int64, count=len(values))
    distinct = list(order)
    counts = np.bincount(index, minlength=len(distinct)).astype(np.float64)
    amounts = [_as_float(v) for v in distinct]
    rank = {v: k for k, v in enumerate(sorted(set(amounts), reverse=True))}
    rows = []
    for k, (v, a) in enumerate(zip(distinct, amounts, strict=True)):
        r = rank.get(a, -1)
        year = float(v[:4]) if len(v) == 10 and v[:4].isdigit() else 0.0
        log = math.log1p(abs(a)) if not math.isnan(a) else -1.0
        rows.append((counts[k], k / len(distinct), log, r, r == 0, year))
    table = np.array(rows, dtype=np.float64)
    return index, table


def describe(doc: Document, candidates: Sequence[Candidate], layout: Layout | None = None) -> Described:
    """Numbers and context tokens for each candidate of one shape in one document."""
    m = len(candidates)
    if not m:
        return Described.concat([])
    lay = layout if layout is not None else Layout(doc)
    ints = np.array([(c.line, c.line_end, c.start, c.end, c.variant) for c in candidates], dtype=np.int64)
    line, end_line = ints[:, 0], ints[:, 1]
    start, end, variant = ints[:, 2].astype(np.float64), ints[:, 3].astype(np.float64), ints[:, 4]
    stats = np.array([_raw_stats(c.raw) for c in candidates], dtype=np.float64)
    raw_len = stats[:, 0]
    n_raw = np.maximum(raw_len, 1.0)
    value_index, table = _per_value([c.value for c in candidates])
    per_value = table[value_index]
    starts = np.sort(line)
    extras = np.tile([d for _, d in _EXTRAS], (m, 1))
    for row, c in enumerate(candidates):
        if c.extra:  # most candidates have none
            extras[row] = [c.extra.get(k, d) for k, d in _EXTRAS]
    x = np.column_stack(
        [
            line,
            line / lay.n,
            lay.n - 1 - line,
            lay.y[line],
            lay.x0[line],
            lay.x1[line],
            lay.h[line],
            lay.h_rank[line],
            end_line - line + 1,
            variant,
            raw_len,
            stats[:, 3],
            stats[:, 1] / n_raw,
            stats[:, 2] / n_raw,
            start / lay.line_len[line],
            end / lay.line_len[end_line],
            raw_len / lay.line_len[line],
            per_value[:, 0],
            per_value[:, 1],
            np.full(m, float(table.shape[0])),
            per_value[:, 2],
            per_value[:, 3],
            per_value[:, 4],
            (m - np.searchsorted(starts, end_line, side="right")) / m,
            extras[:, : len(_EXTRAS) - 4],
            lay.alpha_rank[line],
            per_value[:, 5],
            np.array([names.name_stats(c.value) for c in candidates], dtype=np.float64),
            stats[:, 4],
            lay.next_registration[end_line],
            lay.next_suffix[end_line],
            lay.prev_suffix[line],
            extras[:, len(_EXTRAS) - 4 :],
        ]
    ).astype(np.float32)
    return Described(x, [_context(c, lay) for c in candidates])


@lru_cache(maxsize=16384)
def _raw_stats(raw: str) -> tuple[float, ...]:
    """(length, digits, letters, words, upper-case share of letters) of a candidate's text."""
    letters = _LETTER.findall(raw)
    upper = sum(map(str.isupper, letters)) / len(letters) if letters else 0.0
    return len(raw), len(raw) - len(raw.translate(_DIGITS)), len(letters), len(raw.split()), upper


def _context(c: Candidate, lay: Layout) -> Context:
    text = lay.texts[c.line]
    rest = tokens(text[: c.start] + " " + text[c.end :]) if c.line == c.line_end else frozenset()
    colon = int(lay.colon[c.line])
    return (
        tokens(c.raw),
        rest,
        lay.left[c.line],
        lay.tokens[c.line - 1] if c.line > 0 else _START,
        lay.tokens[c.line_end + 1] if c.line_end + 1 < len(lay.texts) else _END,
        lay.label[c.line] if 0 <= colon < c.start + 1 else _EMPTY,
    )


_START, _END, _EMPTY = frozenset({"<START>"}), frozenset({"<END>"}), frozenset[str]()


def _as_float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.nan
