"""Learnt value lists: counts come from training documents, each left out of its own."""

from __future__ import annotations

import numpy as np

from agents.extract.gazetteer import Gazetteer, Lexicon, identifiers
from agents.extract.names import has_suffix, is_registration, name_stats


def test_identifiers_are_long_digit_runs() -> None:
    texts = ["ABC SDN BHD", "GST ID : 001-234-567-890", "TEL 03-7845 8155", "NO 12", "TOTAL 12.50"]
    assert identifiers(texts) == [(1, "001234567890"), (2, "0378458155")]


def test_lexicon_votes_and_leaves_own_document_out() -> None:
    lexicon = Lexicon.learn([("ABC SDN BHD", [(0, "123456")]), ("ABC SDN BHD", [(3, "123456")])])
    texts = ["x", "GST 123456"]
    ids = [(1, "123456")]
    (seen,) = lexicon.candidates(texts, ids)
    assert (seen.value, seen.raw, seen.line) == ("ABC SDN BHD", "GST 123456", 1)
    assert seen.extra["lexicon_votes"] == 2.0 and seen.extra["lexicon_share"] == 1.0
    (own,) = lexicon.candidates(texts, ids, own_gold="ABC SDN BHD", own=True)
    assert own.extra["lexicon_votes"] == 1.0
    single = Lexicon.learn([("XYZ TRADING", [(0, "999999")])])
    # a value only its own document voted for is no evidence on that document
    assert single.candidates(texts, [(1, "999999")], own_gold="XYZ TRADING", own=True) == []
    assert lexicon.candidates(texts, [(1, "555555")]) == []


def test_gazetteer_counts_leave_own_document_out() -> None:
    gazetteer = Gazetteer.learn([("abc", ["abc", "taxinvoice"]), ("def", ["def", "taxinvoice"])])
    new = gazetteer.columns(["abc", "taxinvoice", None], backed={"abc": 2.0})
    assert np.allclose(new[0], [1, 1, 0.5, 2])
    assert np.allclose(new[1], [0, 2, 0, 0])
    assert np.allclose(new[2], [0, 0, 0, 0])
    own = gazetteer.columns(["abc", "taxinvoice"], own_gold="abc", own=True)
    assert np.allclose(own, [[0, 0, 0, 0], [0, 1, 0, 0]])


def test_business_name_evidence() -> None:
    assert has_suffix("AIK HUAT HARDWARE ENTERPRISE (SETIA ALAM) SDN BHD")
    assert is_registration("(1179227A)") and is_registration("CO NO : 1174703-K")
    assert not is_registration("TOTAL 12.50")
    suffix_end, _, open_end, _ = name_stats("HOME MASTER HARDWARE &")
    assert (suffix_end, open_end) == (0.0, 1.0)
    assert name_stats("SIMPLIFIED TAX INVOICE")[3] == 3.0
