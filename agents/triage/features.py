"""Text → fixed-width feature vectors, identical at training and serving time.

Hashed n-grams need no vocabulary, so the ONNX graph takes a plain float tensor and
any text (receipts, claim forms, unseen vendors) maps into the same space. Character
n-grams within word boundaries survive OCR noise; word uni/bi-grams carry layout words
("TOTAL", "DIAGNOSIS", "VIN"). Change anything here → bump FEATURE_VERSION, because
an artifact trained on one version is refused by the other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import HashingVectorizer

FEATURE_VERSION = "hash-charwb34-word12-2x8192-v1"
N_CHAR = 2**13
N_WORD = 2**13
N_FEATURES = N_CHAR + N_WORD
MAX_CHARS = 6000  # a claim form's first pages say what it is; bounds featurisation cost


class Featurizer:
    """Stateless; build once per process (the vectorizers are cheap to keep)."""

    def __init__(self) -> None:
        common = {"alternate_sign": False, "norm": "l2", "dtype": np.float32, "lowercase": True}
        self._char = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 4), n_features=N_CHAR, **common)
        self._word = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=N_WORD, **common)

    def sparse(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Training form: scikit-learn fits far faster on the sparse matrix."""
        clipped = [t[:MAX_CHARS] for t in texts]
        return sp.hstack([self._char.transform(clipped), self._word.transform(clipped)], format="csr")

    def transform(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Serving form: the ONNX graph takes a dense float tensor."""
        clipped = [t[:MAX_CHARS] for t in texts]
        out = np.empty((len(clipped), N_FEATURES), dtype=np.float32)
        out[:, :N_CHAR] = self._char.transform(clipped).toarray()
        out[:, N_CHAR:] = self._word.transform(clipped).toarray()
        return out
