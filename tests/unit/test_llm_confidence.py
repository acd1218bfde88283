"""Token logprobs placed on JSON values: spans, byte-split tokens, misalignment."""

from __future__ import annotations

import json
import math

import pytest

from agents.extract.llm_confidence import TokenMap, field_probabilities, value_spans
from agents.extract.pricing import cost_usd, price_key
from schemas.llm import TokenLogprob, TokenUsage


def test_spans_cover_each_literal_including_escapes_and_nesting() -> None:
    text = '{"a": "x\\"y", "b": {"c": [1, null, "é"]}, "d": -2.5e3}'
    spans = value_spans(text)
    for path, expected in [
        (("a",), 'x"y'),
        (("b", "c", 0), 1),
        (("b", "c", 1), None),
        (("b", "c", 2), "é"),
        (("d",), -2500.0),
    ]:
        start, end = spans[path]
        assert json.loads(text[start:end]) == expected
    assert spans[()] == (0, len(text))


@pytest.mark.parametrize("bad", ['{"a": }', '{"a": 1', '{"a": 1} x', "[1 2]"])
def test_invalid_json_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        value_spans(bad)


def _tok(text: str, lp: float) -> TokenLogprob:
    return TokenLogprob(token=text, logprob=lp, bytes=tuple(text.encode()))


def test_value_probability_is_the_product_of_its_tokens() -> None:
    tokens = [
        _tok('{"fields": {"total": ', 0.0),
        _tok('"12', math.log(0.9)),
        _tok('.50"', math.log(0.5)),
        _tok(', "tax": ', 0.0),
        _tok("null", math.log(0.7)),
        _tok("}}", 0.0),
    ]
    content = "".join(t.token for t in tokens)
    probs = field_probabilities(content=content, tokens=tokens, names=["total", "tax", "absent"])
    assert probs == pytest.approx({"total": 0.45, "tax": 0.7})


def test_a_token_that_splits_a_character_is_placed_by_its_bytes() -> None:
    euro = "€".encode()  # three bytes, split across two tokens as byte-level BPE does
    tokens = [
        _tok('{"fields": {"currency": "', 0.0),
        TokenLogprob(token="\\xe2\\x82", logprob=math.log(0.8), bytes=tuple(euro[:2])),
        TokenLogprob(token="\\xac", logprob=math.log(0.5), bytes=tuple(euro[2:])),
        _tok('"}}', 0.0),
    ]
    content = '{"fields": {"currency": "€"}}'
    assert TokenMap(content, tokens).aligned
    probs = field_probabilities(content=content, tokens=tokens, names=["currency"])
    assert probs == pytest.approx({"currency": 0.4})


def test_tokens_that_do_not_spell_the_answer_give_no_confidences() -> None:
    tokens = [_tok('{"fields": {"total": "9"}}', -0.1)]
    assert field_probabilities(content='{"fields": {"total": "8"}}', tokens=tokens, names=["total"]) is None
    assert field_probabilities(content='{"fields": {}}', tokens=None, names=["total"]) is None


def test_prices_follow_snapshots_and_fine_tunes_and_unknown_models_cost_nothing_known() -> None:
    usage = TokenUsage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    assert price_key("ft:gpt-4o-mini-2024-07-18:acme::abc123") == "ft:gpt-4o-mini"
    assert price_key("gpt-4o-2024-08-06") == "gpt-4o"
    assert cost_usd(model="gpt-4o-mini-2024-07-18", usage=usage) == pytest.approx(0.75)
    assert cost_usd(model="ft:gpt-4o-mini-2024-07-18:acme::abc123", usage=usage) == pytest.approx(1.5)
    assert cost_usd(model="qwen2.5-7b-instruct", usage=usage) is None
    assert cost_usd(model="gpt-4o", usage=None) is None
