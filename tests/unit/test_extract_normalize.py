"""Normalisers: one spelling per value, None when the text holds no value."""

from __future__ import annotations

import pytest

from agents.extract.normalize import (
    comparison_key,
    is_valid,
    normalize,
    normalize_address,
    normalize_amount,
    normalize_codes,
    normalize_currency,
    normalize_date,
    normalize_text,
    shape_of,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09/01/2019", "2019-01-09"),  # day first on Malaysian receipts
        ("DATE: 09/01/2019 8:01:11 PM", "2019-01-09"),
        ("12/25/2018", "2018-12-25"),  # month first when day first is impossible
        ("28-01-18", "2018-01-28"),
        ("02 APR 2018", "2018-04-02"),
        ("10-Mar-2018", "2018-03-10"),
        ("OCT 3, 2016", "2016-10-03"),
        ("June 26, 1991", "1991-06-26"),
        ("2018-04-28", "2018-04-28"),
        ("20180428", "2018-04-28"),
        ("25032018", "2018-03-25"),
        ("(04/03/2018)", "2018-03-04"),
        ("04 29 2026", "2026-04-29"),
        ("31/02/2018", None),
        ("no date here", None),
        (None, None),
    ],
)
def test_dates(text: str | None, expected: str | None) -> None:
    assert normalize_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31.00", "31.00"),
        ("RM 9.90", "9.90"),
        ("$8.20", "8.20"),
        ("1,059.80", "1059.80"),
        ("1.234,56", "1234.56"),
        ("12,50", "12.50"),
        ("99.9", "99.90"),
        ("-9.99", "-9.99"),
        ("7", "7.00"),
        ("abc", None),
        ("", None),
    ],
)
def test_amounts(text: str, expected: str | None) -> None:
    assert normalize_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("e785", "E78.5"),
        ("R51.9, R05.9;R51.9", "R51.9,R05.9"),
        ("185347001 52052004", "185347001,52052004"),
        ("  ", None),
    ],
)
def test_codes(text: str, expected: str | None) -> None:
    assert normalize_codes(text) == expected


def test_text_and_address() -> None:
    assert normalize_text("  ABC   HO TRADING : ") == "ABC HO TRADING"
    assert normalize_text(" -:- ") is None
    assert (
        normalize_address("no 3 ,jalan permas\n81750 masai , johor") == "NO 3 JALAN PERMAS 81750 MASAI JOHOR"
    )


@pytest.mark.parametrize(
    ("text", "expected"), [("TOTAL 5 USD", "USD"), ("$ 12", "USD"), ("RM12.00", "MYR"), ("none", None)]
)
def test_currency(text: str, expected: str | None) -> None:
    assert normalize_currency(text) == expected


@pytest.mark.parametrize(
    ("field", "shape"),
    [
        ("issue_date", "date"),
        ("total", "amount"),
        ("claimed_amount", "amount"),
        ("diagnosis_codes", "codes"),
        ("vendor_address", "address"),
        ("currency", "currency"),
        ("claim_type", "category"),
        ("vendor_name", "text"),
    ],
)
def test_shapes(field: str, shape: str) -> None:
    assert shape_of(field) == shape


def test_validators_accept_only_normalised_values() -> None:
    assert is_valid("issue_date", "2019-01-09")
    assert not is_valid("issue_date", "09/01/2019")
    assert not is_valid("total", None)
    assert normalize("total", "RM 3.5") == "3.50"


def test_comparison_key_ignores_case_and_whitespace() -> None:
    assert comparison_key("Abc Ho\tTrading") == comparison_key("ABC HO TRADING")
    assert comparison_key("  ") is None
