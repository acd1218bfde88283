"""Per-field confidence from the token log probabilities of a structured answer.

The probability the model gave a value is the product of the probabilities of the
tokens that spell it, so a field's confidence is exp(sum of those tokens' logprobs).
Tokens are placed on the answer by their bytes (a token may end inside a UTF-8
character), values by a small JSON scanner that records where each value's literal
starts and ends. Tokens that overlap a value's literal count toward it: the quote
and separator tokens that share them are near-certain under a grammar and add ~0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from json.decoder import scanstring  # type: ignore[attr-defined]  # C-accelerated, untyped

from schemas.llm import TokenLogprob

Path = tuple[str | int, ...]

_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def value_spans(text: str) -> dict[Path, tuple[int, int]]:
    """Character span of every value in a JSON text, keyed by its path.

    Raises ValueError when `text` is not one JSON value.
    """
    spans: dict[Path, tuple[int, int]] = {}
    end = _value(text, _skip(text, 0), (), spans)
    if _skip(text, end) != len(text):
        raise ValueError("trailing data after the JSON value")
    return spans


def _skip(text: str, i: int) -> int:
    m = _WS.match(text, i)
    return m.end() if m else i


def _value(text: str, i: int, path: Path, spans: dict[Path, tuple[int, int]]) -> int:
    if i >= len(text):
        raise ValueError("unexpected end of JSON")
    start, c = i, text[i]
    if c == "{":
        end = _members(text, i + 1, path, spans)
    elif c == "[":
        end = _items(text, i + 1, path, spans)
    elif c == '"':
        end = scanstring(text, i + 1)[1]
    else:
        m = _SCALAR.match(text, i)
        if not m:
            raise ValueError(f"no JSON value at {i}")
        end = m.end()
    spans[path] = (start, end)
    return end


def _members(text: str, i: int, path: Path, spans: dict[Path, tuple[int, int]]) -> int:
    i = _skip(text, i)
    if text[i : i + 1] == "}":
        return i + 1
    while True:
        if text[i : i + 1] != '"':
            raise ValueError(f"expected a key at {i}")
        key, i = scanstring(text, i + 1)
        i = _skip(text, i)
        if text[i : i + 1] != ":":
            raise ValueError(f"expected ':' at {i}")
        i = _skip(text, _value(text, _skip(text, i + 1), (*path, key), spans))
        if text[i : i + 1] == "}":
            return i + 1
        if text[i : i + 1] != ",":
            raise ValueError(f"expected ',' or '}}' at {i}")
        i = _skip(text, i + 1)


def _items(text: str, i: int, path: Path, spans: dict[Path, tuple[int, int]]) -> int:
    i = _skip(text, i)
    if text[i : i + 1] == "]":
        return i + 1
    n = 0
    while True:
        i = _skip(text, _value(text, i, (*path, n), spans))
        n += 1
        if text[i : i + 1] == "]":
            return i + 1
        if text[i : i + 1] != ",":
            raise ValueError(f"expected ',' or ']' at {i}")
        i = _skip(text, i + 1)


class TokenMap:
    """Token log probabilities placed on the byte offsets of the answer text."""

    def __init__(self, text: str, tokens: Sequence[TokenLogprob]) -> None:
        self._text = text
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._logprobs: list[float] = []
        spelled: list[bytes] = []
        at = 0
        for t in tokens:
            raw = bytes(t.bytes) if t.bytes is not None else t.token.encode()
            spelled.append(raw)
            self._starts.append(at)
            self._ends.append(at + len(raw))
            self._logprobs.append(t.logprob)
            at += len(raw)
        self.aligned = b"".join(spelled) == text.encode()

    def probability(self, start: int, end: int) -> float:
        """exp(sum of logprobs) of the tokens overlapping text[start:end]."""
        b_start = len(self._text[:start].encode())
        b_end = b_start + len(self._text[start:end].encode())
        total = sum(
            lp
            for s, e, lp in zip(self._starts, self._ends, self._logprobs, strict=True)
            if s < b_end and e > b_start
        )
        # servers write -inf as -9999 or similar; exp underflows to 0 either way
        return math.exp(max(total, -700.0))


def field_probabilities(
    *, content: str, tokens: Sequence[TokenLogprob] | None, names: Sequence[str]
) -> dict[str, float] | None:
    """Confidence of each `fields.<name>` value, or None when the tokens cannot be
    placed on the text (no logprobs, or tokens that do not spell the answer)."""
    if not tokens:
        return None
    tokens_map = TokenMap(content, tokens)
    if not tokens_map.aligned:
        return None
    try:
        spans = value_spans(content)
    except ValueError:
        return None
    out: dict[str, float] = {}
    for name in names:
        span = spans.get(("fields", name))
        if span is not None:
            out[name] = tokens_map.probability(*span)
    return out
