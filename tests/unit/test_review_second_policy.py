"""Which tasks need two reviewers, and agreement arithmetic, without a database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sklearn.metrics import cohen_kappa_score

from infra.db.tables import ReviewOpinionRow
from infra.settings import Settings
from review.agreement import kappa, summarise
from review.second import DoubleReviewPolicy, amount_of, differing_fields, sampled


def test_share_rule_is_deterministic_and_close_to_the_share() -> None:
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"task:{i}")) for i in range(4000)]
    picked = [i for i in ids if sampled(i, share=0.1)]
    assert 0.08 < len(picked) / len(ids) < 0.12
    assert picked == [i for i in ids if sampled(i, share=0.1)]
    # A larger share keeps every task a smaller one picked: raising it never drops one.
    assert set(picked) <= {i for i in ids if sampled(i, share=0.3)}
    assert not any(sampled(i, share=0.0) for i in ids) and all(sampled(i, share=1.0) for i in ids)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"total": "5000.01"}, True),
        ({"total": "5000.00"}, False),
        ({"total": "12,500.00"}, True),
        ({"claimed_amount": "7300"}, True),
        ({"claimed_amount": "99.99"}, False),
        ({"total": "not a number"}, False),
        ({"total": None}, False),
        ({}, False),
    ],
)
def test_amount_rule(values: dict[str, str | None], expected: bool) -> None:
    policy = DoubleReviewPolicy(share=0.0, amount=5000.0)
    assert policy.needs_two(task_id="t-1", values=values) is expected


def test_policy_from_settings_and_defaults() -> None:
    s = Settings()
    assert (s.review.second_review_share, s.review.second_review_amount) == (0.1, 5000.0)
    policy = DoubleReviewPolicy.from_settings(s.review)
    assert policy == DoubleReviewPolicy(share=0.1, amount=5000.0)
    assert (
        amount_of({"total": "$1,234.50"}) is not None and str(amount_of({"total": "$1,234.50"})) == "1234.50"
    )
    assert not DoubleReviewPolicy().needs_two(task_id="t-1", values={"total": "1e9"})


def test_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCLERK_REVIEW__SECOND_REVIEW_SHARE", "0.25")
    monkeypatch.setenv("AUTOCLERK_REVIEW__SECOND_REVIEW_AMOUNT", "10000")
    s = Settings()
    assert (s.review.second_review_share, s.review.second_review_amount) == (0.25, 10000.0)


def _c(field: str, new: str | None) -> dict[str, Any]:
    return {"field": field, "old_value": "x", "new_value": new, "old_confidence": 0.5}


def test_differing_fields_counts_an_untouched_field_against_a_correction() -> None:
    assert differing_fields([_c("total", "15")], [_c("total", "15")]) == []
    assert differing_fields([_c("total", "15")], []) == ["total"]
    assert differing_fields([_c("total", "15"), _c("vendor_name", None)], [_c("total", "16")]) == [
        "total",
        "vendor_name",
    ]


def _op(task: str, rnd: int, who: str, outcome: str, *corr: dict[str, Any]) -> ReviewOpinionRow:
    return ReviewOpinionRow(
        task_id=task,
        document_id="d" + task,
        kind="invoice",
        round=rnd,
        reviewer=who,
        outcome=outcome,
        corrections=list(corr),
    )


def test_summarise_hand_made_pairs() -> None:
    pairs = [
        (_op("1", 1, "a", "approve", _c("total", "15")), _op("1", 2, "b", "approve", _c("total", "15"))),
        (_op("2", 1, "a", "approve", _c("total", "15")), _op("2", 2, "b", "reject")),
        (
            _op("3", 1, "a", "reject", _c("vendor_name", "ACME")),
            _op("3", 2, "b", "reject", _c("vendor_name", "ACME Ltd.")),
        ),
        (_op("4", 1, "a", "request_info"), _op("4", 2, "b", "approve", _c("total", "9"))),
    ]
    ag = summarise(pairs)
    by = {f.field: (f.agreed, f.total) for f in ag.fields}
    assert (ag.tasks, ag.outcome_agreed, ag.outcome_rate) == (4, 2, 0.5)
    assert by["total"] == (2, 4) and by["vendor_name"] == (3, 4) and by["invoice_number"] == (4, 4)
    # By hand: p_o = 2/4, p_e = (2*2 + 1*2 + 1*0) / 16 = 0.375, kappa = 0.125 / 0.625.
    assert ag.outcome_kappa == pytest.approx(0.2)
    labels = [(a.outcome, b.outcome) for a, b in pairs]
    assert ag.outcome_kappa == pytest.approx(cohen_kappa_score(*zip(*labels, strict=True)))


def test_kappa_edge_cases() -> None:
    assert kappa([]) is None
    assert kappa([("approve", "approve")] * 3) is None  # chance agreement is total
    assert kappa([("approve", "approve"), ("reject", "reject")]) == pytest.approx(1.0)
