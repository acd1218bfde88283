"""Features of a candidate: where it sits, what it looks like, what words surround it.

Features are computed in two steps so cross-validation stays cheap and honest:
`describe` turns each candidate into numbers plus context token sets once, and
`Vocabulary` (learned per training fold, from that fold only) turns the token sets
into indicator columns. Layout comes from line boxes when the document has them and
falls back to reading order when it does not (plain-text documents).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agents.extract.candidates import Candidate
from schemas.document import Document

CONTEXTS = ("inside", "rest", "left", "prev", "next", "label")
_TOKEN = re.compile(r"[A-Z]{2,}|[#:%@$]")
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
)


def tokens(text: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall(text.upper()))


@dataclass(frozen=True, slots=True)
class Described:
    numeric: tuple[float, ...]
    context: tuple[frozenset[str], ...]


class Layout:
    """Per-document geometry, computed once for all candidates of all fields."""

    def __init__(self, doc: Document) -> None:
        n = max(len(doc.lines), 1)
        self.n = n
        boxes = [line.bbox for line in doc.lines]
        page = doc.pages[0] if doc.pages else None
        have = page is not None and all(b is not None for b in boxes)
        if have and page is not None:
            w, h = page.width or 1.0, page.height or 1.0
            self.y = [((b[1] + b[3]) / 2) / h for b in boxes if b]
            self.x0 = [b[0] / w for b in boxes if b]
            self.x1 = [b[2] / w for b in boxes if b]
            heights = [max(b[3] - b[1], 1.0) for b in boxes if b]
            median = float(np.median(heights)) if heights else 1.0
            self.h = [v / median for v in heights]
        else:
            self.y = [i / n for i in range(len(doc.lines))]
            self.x0 = [0.0] * len(doc.lines)
            self.x1 = [1.0] * len(doc.lines)
            self.h = [1.0] * len(doc.lines)
        order = sorted(range(len(self.h)), key=lambda i: -self.h[i])
        self.h_rank = {i: r for r, i in enumerate(order)}
        self.tokens = [tokens(line.text) for line in doc.lines]
        self.left = [self._left_tokens(i, boxes, have) for i in range(len(doc.lines))]
        alpha = [i for i, line in enumerate(doc.lines) if re.search(r"[A-Za-z]{3,}", line.text)]
        self.alpha_rank = {i: r for r, i in enumerate(alpha)}

    def _left_tokens(self, i: int, boxes: list, have: bool) -> frozenset[str]:
        """Words on the same visual row to the left: the label of a value box."""
        if not have:
            return frozenset()
        b = boxes[i]
        found: set[str] = set()
        for j, o in enumerate(boxes):
            overlap = min(b[3], o[3]) - max(b[1], o[1])
            if j != i and o[2] <= b[0] + 5 and overlap > 0.5 * min(b[3] - b[1], o[3] - o[1]):
                found |= self.tokens[j]
        return frozenset(found)


def _shape_stats(raw: str) -> tuple[float, float, float]:
    n = max(len(raw), 1)
    digits = sum(map(str.isdigit, raw))
    alpha = sum(map(str.isalpha, raw))
    return float(len(raw)), digits / n, alpha / n


def describe(doc: Document, candidates: Sequence[Candidate], layout: Layout | None = None) -> list[Described]:
    """Numbers and context tokens for each candidate of one field in one document."""
    if not candidates:
        return []
    lay = layout if layout is not None else Layout(doc)
    counts = Counter(c.value for c in candidates)
    order = {v: k for k, v in enumerate(dict.fromkeys(c.value for c in candidates))}
    amounts = sorted({_as_float(c.value) for c in candidates}, reverse=True)
    rank = {v: k for k, v in enumerate(amounts)}
    starts = sorted(c.line for c in candidates)
    out = []
    for c in candidates:
        text = doc.lines[c.line].text
        last = doc.lines[c.line_end].text
        raw_len, digit_frac, alpha_frac = _shape_stats(c.raw)
        amount = _as_float(c.value)
        below = (len(starts) - bisect_right(starts, c.line_end)) / len(candidates)
        colon = text.find(":")
        label = text[:colon] if 0 <= colon < c.start + 1 else ""
        year = float(c.value[:4]) if c.value[:4].isdigit() and len(c.value) == 10 else 0.0
        numeric = (
            c.line,
            c.line / lay.n,
            lay.n - 1 - c.line,
            lay.y[c.line],
            lay.x0[c.line],
            lay.x1[c.line],
            lay.h[c.line],
            lay.h_rank.get(c.line, 0),
            c.line_end - c.line + 1,
            c.variant,
            raw_len,
            len(c.raw.split()),
            digit_frac,
            alpha_frac,
            c.start / max(len(text), 1),
            c.end / max(len(last), 1),
            len(c.raw) / max(len(text), 1),
            counts[c.value],
            order[c.value] / len(order),
            len(order),
            math.log1p(abs(amount)) if not math.isnan(amount) else -1.0,
            rank.get(amount, -1),
            float(rank.get(amount, -1) == 0),
            below,
            c.extra.get("dayfirst", -1.0),
            c.extra.get("readings", 0.0),
            c.extra.get("currency", -1.0),
            c.extra.get("decimals", -1.0),
            c.extra.get("joined", 1.0),
            c.extra.get("n_codes", 0.0),
            lay.alpha_rank.get(c.line, -1),
            year,
        )
        inside = tokens(c.raw)
        rest = tokens(text[: c.start] + " " + text[c.end :]) if c.line == c.line_end else frozenset()
        context = (
            inside,
            rest,
            lay.left[c.line],
            lay.tokens[c.line - 1] if c.line > 0 else frozenset({"<START>"}),
            lay.tokens[c.line_end + 1] if c.line_end + 1 < len(doc.lines) else frozenset({"<END>"}),
            tokens(label),
        )
        out.append(Described(tuple(float(v) for v in numeric), context))
    return out


def _as_float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.nan


class Vocabulary:
    """Context words that separate right from wrong candidates, learned per field."""

    def __init__(self, index: dict[tuple[int, str], int]) -> None:
        self.index = index

    @classmethod
    def learn(
        cls,
        described: Sequence[Described],
        labels: Sequence[bool],
        *,
        per_context: int = 40,
    ) -> Vocabulary:
        pos: list[Counter[str]] = [Counter() for _ in CONTEXTS]
        neg: list[Counter[str]] = [Counter() for _ in CONTEXTS]
        n_pos = max(sum(labels), 1)
        n_neg = max(len(labels) - sum(labels), 1)
        for d, y in zip(described, labels, strict=True):
            for k, toks in enumerate(d.context):
                (pos if y else neg)[k].update(toks)
        index: dict[tuple[int, str], int] = {}
        for k in range(len(CONTEXTS)):
            scored = []
            for tok in set(pos[k]) | set(neg[k]):
                p, q = pos[k][tok], neg[k][tok]
                if p + q < 3:
                    continue
                lift = abs(math.log((p + 0.5) / n_pos) - math.log((q + 0.5) / n_neg))
                scored.append((lift * math.log1p(p), tok))
            for _, tok in sorted(scored, reverse=True)[:per_context]:
                index[(k, tok)] = len(index)
        return cls(index)

    def matrix(self, described: Sequence[Described]) -> np.ndarray:
        x = np.zeros((len(described), len(NUMERIC) + len(self.index)), dtype=np.float32)
        base = len(NUMERIC)
        for row, d in enumerate(described):
            x[row, :base] = d.numeric
            for k, toks in enumerate(d.context):
                for tok in toks:
                    col = self.index.get((k, tok))
                    if col is not None:
                        x[row, base + col] = 1.0
        return x
