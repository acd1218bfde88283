"""Text → hashed sparse features, identical at training and serving time.

Hashed n-grams need no vocabulary, so any text (receipts, claim forms, unseen
vendors) maps into the same space. Character 3/4-grams within word boundaries survive
OCR noise; word uni/bi-grams carry layout words ("TOTAL", "DIAGNOSIS", "VIN").

Hashing is done in NumPy over the text's code points rather than by scikit-learn's
`HashingVectorizer`, whose Python analyzer built every n-gram as a string and cost
more per document than the model. Serving hands the ONNX graph only the non-zero
entries (indices and values padded to the batch's longest row) instead of a dense
16,384-wide vector; the graph scatters them itself. Change anything here → bump
FEATURE_VERSION, because an artifact trained on one version is refused by the other.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

FEATURE_VERSION = "np-charwb34-word12-2x8192-v2"
N_CHAR = 2**13
N_WORD = 2**13
N_FEATURES = N_CHAR + N_WORD
MAX_CHARS = 6000  # a claim form's first pages say what it is; bounds featurisation cost

_SPACE = np.uint64(32)
_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0xFF51AFD7ED558CCD)
Buckets = tuple[NDArray[np.int64], NDArray[np.int64]]  # feature index, owning text
_PUNCT = np.array([ord(c) for c in string.punctuation], dtype=np.uint64)
with np.errstate(over="ignore"):
    _POWERS = np.concatenate([[np.uint64(1)], np.cumprod(np.full(MAX_CHARS + 1, _PRIME, dtype=np.uint64))])


def _mix(h: NDArray[np.uint64], salt: int) -> NDArray[np.uint64]:
    """Finalise a polynomial hash so that the low bits (the bucket) depend on all input."""
    with np.errstate(over="ignore"):
        h = (h ^ np.uint64(salt)) * _MIX
        return h ^ (h >> np.uint64(33))


def _code_points(texts: Sequence[str]) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """All texts' lower-cased code points in one array (whitespace runs collapsed, one
    space each side of every text) and the text each position belongs to. Two spaces
    separate texts, so no character n-gram spans two of them."""
    padded = [" " + " ".join(t[:MAX_CHARS].lower().split()) + " " for t in texts]
    c = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    owner = np.repeat(np.arange(len(padded)), [len(p) for p in padded])
    return c, owner


def _char_buckets(c: NDArray[np.uint64], owner: NDArray[np.int64]) -> Buckets:
    """3- and 4-grams that stay within one space-padded word (like `char_wb`)."""
    with np.errstate(over="ignore"):
        h3 = (c[:-2] * _PRIME + c[1:-1]) * _PRIME + c[2:]
        h4 = h3[:-1] * _PRIME + c[3:]
    inner = c[1:-1] != _SPACE
    keep4 = inner[:-1] & inner[1:]
    buckets = np.concatenate([_mix(h3[inner], 3), _mix(h4[keep4], 4)]) % np.uint64(N_CHAR)
    return buckets.astype(np.int64), np.concatenate([owner[:-2][inner], owner[:-3][keep4]])


def _word_buckets(c: NDArray[np.uint64], owner: NDArray[np.int64]) -> Buckets:
    """Words of two or more characters (punctuation splits words), and their bigrams."""
    w = np.where(np.isin(c, _PUNCT), _SPACE, c)
    space = w == _SPACE
    starts = np.flatnonzero(space[:-1] & ~space[1:]) + 1
    ends = np.flatnonzero(~space[:-1] & space[1:]) + 1
    lengths = ends - starts
    if not len(lengths):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    chars = w[~space]
    offsets = np.cumsum(lengths) - lengths
    # Each character weighted by PRIME^(distance to its word's end): a polynomial hash
    # per word, summed per segment in one reduceat.
    to_end = np.repeat(offsets + lengths, lengths) - 1 - np.arange(len(chars))
    with np.errstate(over="ignore"):
        words = np.add.reduceat(chars * _POWERS[to_end], offsets, dtype=np.uint64)
    long = lengths >= 2
    words, word_owner = words[long], owner[starts[long]]
    same = word_owner[:-1] == word_owner[1:]
    with np.errstate(over="ignore"):
        bigrams = (words[:-1] * _MIX + words[1:])[same]
    buckets = np.concatenate([_mix(words, 1), _mix(bigrams, 2)]) % np.uint64(N_WORD)
    return buckets.astype(np.int64) + N_CHAR, np.concatenate([word_owner, word_owner[:-1][same]])


class Featurizer:
    """Stateless; build once per process. Works on a whole batch at once: NumPy's
    per-call overhead, not arithmetic, is the cost for receipt-sized texts."""

    def sparse(self, texts: Sequence[str]) -> sp.csr_matrix:
        """CSR matrix, each half (characters, words) of each row l2-normalised: the
        training form, scikit-learn's serving form, and the source of `padded`."""
        c, owner = _code_points(texts)
        cb, co = _char_buckets(c, owner)
        wb, wo = _word_buckets(c, owner)
        keys, counts = np.unique(
            np.concatenate([co * N_FEATURES + cb, wo * N_FEATURES + wb]), return_counts=True
        )
        rows, cols = np.divmod(keys, N_FEATURES)
        values = counts.astype(np.float32)
        half = rows * 2 + (cols >= N_CHAR)
        norms = np.sqrt(np.bincount(half, weights=values * values, minlength=2 * len(texts)))
        values /= norms[half].astype(np.float32)
        indptr = np.searchsorted(rows, np.arange(len(texts) + 1))
        return sp.csr_matrix((values, cols, indptr), shape=(len(texts), N_FEATURES), dtype=np.float32)

    def padded(self, texts: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """ONNX serving form: [N, L] indices and values, padded with (0, 0.0)."""
        x = self.sparse(texts)
        lengths = np.diff(x.indptr)
        width = int(lengths.max(initial=0)) or 1
        # Position of each stored entry within its row, to scatter into the padded grid.
        slot = np.arange(x.nnz) - np.repeat(x.indptr[:-1], lengths)
        row = np.repeat(np.arange(len(texts)), lengths)
        indices = np.zeros((len(texts), width), dtype=np.int64)
        values = np.zeros((len(texts), width), dtype=np.float32)
        indices[row, slot] = x.indices
        values[row, slot] = x.data
        return indices, values
