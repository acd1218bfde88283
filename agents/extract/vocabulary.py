"""Context words that separate right from wrong candidates, learnt per field and fold.

`describe` keeps the words around each candidate as token sets; a `Vocabulary` learnt
from one training fold's labels turns them into indicator columns beside the numeric
features, so no fold's words come from the documents it is scored on.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from agents.extract.features import CONTEXTS, NUMERIC, Described


class Vocabulary:
    """Context words that separate right from wrong candidates, learned per field."""

    def __init__(self, index: dict[tuple[int, str], int]) -> None:
        self.index = index
        self._by_context: list[dict[str, int]] = [{} for _ in CONTEXTS]
        for (k, tok), col in index.items():
            self._by_context[k][tok] = col

    @classmethod
    def learn(cls, described: Described, labels: Sequence[bool], *, per_context: int = 40) -> Vocabulary:
        pos: list[Counter[str]] = [Counter() for _ in CONTEXTS]
        neg: list[Counter[str]] = [Counter() for _ in CONTEXTS]
        n_pos = max(sum(labels), 1)
        n_neg = max(len(labels) - sum(labels), 1)
        for context, y in zip(described.context, labels, strict=True):
            for k, toks in enumerate(context):
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

    def matrix(self, described: Described) -> np.ndarray:
        base = len(NUMERIC)
        x = np.zeros((len(described), base + len(self.index)), dtype=np.float32)
        x[:, :base] = described.numeric
        rows: list[int] = []
        cols: list[int] = []
        # token sets are shared between candidates of a line: look each up once
        seen: dict[tuple[int, frozenset[str]], list[int]] = {}
        for row, context in enumerate(described.context):
            for k, toks in enumerate(context):
                hit = seen.get((k, toks))
                if hit is None:
                    vocab = self._by_context[k]
                    hit = seen[(k, toks)] = [vocab[t] for t in toks if t in vocab]
                if hit:
                    cols += hit
                    rows += [row] * len(hit)
        x[rows, [base + c for c in cols]] = 1.0
        return x
