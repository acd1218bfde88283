"""The shipped health-claim samples (data/samples, derived from Synthea) and the
reference tables beside them: valid records, gold values that are really on the
page, honest codes, and policy statuses that match the policy table."""

from __future__ import annotations

import csv
import importlib
import json
import re
import warnings
from collections import Counter
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from schemas.document import LabelledDocument
from schemas.fields import CLAIM_FIELDS

DATA = Path(__file__).resolve().parents[2] / "data"
SAMPLES = DATA / "samples"
MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
GOLD_FIELDS = {
    "claimant_name", "policy_number", "incident_date", "claim_type", "claimed_amount",
    "currency", "diagnosis_codes", "procedure_codes", "provider_name",
}  # fmt: skip


@pytest.fixture(scope="module")
def icd() -> ModuleType:
    """simple-icd-10-cm parses its whole code table on import (seconds): load it only
    for the tests that need it."""
    with warnings.catch_warnings():  # it reads the table with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module("simple_icd_10_cm")


@cache
def shipped() -> list[LabelledDocument]:
    lines = (SAMPLES / "claims.jsonl").read_text(encoding="utf-8").splitlines()
    return [LabelledDocument.model_validate_json(line) for line in lines]


def _date_spellings(d: date) -> set[str]:
    month = MONTHS[d.month - 1]
    return {
        d.isoformat(),
        f"{d.month:02d}/{d.day:02d}/{d.year}",
        f"{d.month:02d} {d.day:02d} {d.year}",
        f"{d.month:02d} {d.day:02d} {d.year % 100:02d}",
        f"{month} {d.day}, {d.year}",
        f"{d.day} {month} {d.year}",
        f"{d.day:02d}-{month[:3]}-{d.year}",
        f"{month[:3]} {d.day}, {d.year}",
    }


def _amounts(line: str) -> set[Decimal]:
    """Amounts as printed: 1,234.56 / 1234.56 / the form's '1234 56' boxes."""
    found = re.findall(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d+)[. ](\d{2})(?![\d])", line)
    return {Decimal(f"{whole.replace(',', '')}.{cents}") for whole, cents in found}


def gold_problems(doc: LabelledDocument) -> list[str]:
    """Gold fields that cannot be found on the document (empty list = all found)."""
    g, text, problems = doc.gold, doc.text, []
    lines = text.splitlines()
    words = [set(re.findall(r"[a-z'-]+", line.lower())) for line in lines]
    if not any(set(str(g["claimant_name"]).lower().split()) <= w for w in words):
        problems.append("claimant_name")
    if str(g["policy_number"]) not in text:
        problems.append("policy_number")
    if not any(s in text for s in _date_spellings(date.fromisoformat(str(g["incident_date"])))):
        problems.append("incident_date")
    amount = Decimal(str(g["claimed_amount"]))
    totals = [ln for ln in lines if re.search(r"total|claim", ln, re.IGNORECASE)]
    if not any(amount in _amounts(ln) for ln in totals):
        problems.append("claimed_amount")
    if g["currency"] != "USD" or ("USD" not in text and "$" not in text):
        problems.append("currency")
    undotted = set(re.findall(r"[A-Z0-9.]+", text.replace(".", "")))
    if not all(c.replace(".", "") in undotted for c in str(g["diagnosis_codes"]).split(",")):
        problems.append("diagnosis_codes")
    tokens = set(re.findall(r"\d+", text))
    if not all(c in tokens for c in str(g["procedure_codes"]).split(",")):
        problems.append("procedure_codes")
    if str(g["provider_name"]).lower() not in text.lower():
        problems.append("provider_name")
    if g["claim_type"] != "health" or doc.claim_type != "health":
        problems.append("claim_type")
    return problems


def test_every_line_is_a_labelled_health_claim() -> None:
    docs = shipped()
    assert len(docs) == 400
    assert len({d.document_id for d in docs}) == len(docs)
    for doc in docs:
        assert doc.kind == "claim" and doc.claim_type == "health"
        assert set(doc.gold) == GOLD_FIELDS and set(CLAIM_FIELDS) >= GOLD_FIELDS
        assert all(v for v in doc.gold.values()), doc.document_id
        assert len(doc.lines) >= 12
        assert doc.metadata["synthea_claim_id"] and doc.metadata["payer"]


def test_gold_values_are_on_the_page() -> None:
    failures = {d.document_id: p for d in shipped() if (p := gold_problems(d))}
    assert failures == {}


def test_gold_is_normalised() -> None:
    for doc in shipped():
        g = doc.gold
        assert date.fromisoformat(str(g["incident_date"])).isoformat() == g["incident_date"]
        assert re.fullmatch(r"\d+\.\d{2}", str(g["claimed_amount"]))
        assert re.fullmatch(r"[A-Z0-9]+", str(g["policy_number"]))
        assert " " not in str(g["diagnosis_codes"]) + str(g["procedure_codes"])


def test_layouts_and_formats_vary() -> None:
    docs = shipped()
    layouts = Counter(d.metadata["layout"] for d in docs)
    assert set(layouts) == {"cms1500", "letter", "statement", "member_form"}
    assert min(layouts.values()) >= 50
    # the claimant's name is printed as "LAST, FIRST" on some documents
    assert any(f"{d.gold['claimant_name']}" not in d.text for d in docs)
    # distractor dates: the birth date is on the page and is not the incident date
    assert all("birth" in d.text.lower() or "DOB" in d.text for d in docs)


def test_diagnosis_codes_are_valid_icd10cm_and_unmapped_snomed_is_declared(icd: ModuleType) -> None:
    for doc in shipped():
        assert doc.metadata["diagnosis_code_system"] == "ICD-10-CM"
        for code in str(doc.gold["diagnosis_codes"]).split(","):
            assert icd.is_valid_item(code) and icd.is_leaf(code), code
        for code in filter(None, doc.metadata["unmapped_snomed"].split(",")):
            assert code in doc.text and code not in str(doc.gold["diagnosis_codes"])


def test_snomed_map_targets_are_billable_icd10cm_codes(icd: ModuleType) -> None:
    with (SAMPLES / "snomed_icd10cm.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 50
    assert len({r["snomed_code"] for r in rows}) == len(rows)
    for row in rows:
        assert icd.is_valid_item(row["icd10cm_code"]) and icd.is_leaf(row["icd10cm_code"])
        assert icd.get_description(row["icd10cm_code"]) == row["icd10cm_description"]


def test_splits_are_declared_and_keep_patients_apart() -> None:
    docs = shipped()
    splits = Counter(d.split for d in docs)
    assert set(splits) == {"train", "test"} and splits["test"] >= 40
    names = {s: {d.gold["claimant_name"] for d in docs if d.split == s} for s in splits}
    assert names["train"].isdisjoint(names["test"])


def test_policy_status_matches_the_policy_table() -> None:
    with (SAMPLES / "policies.csv").open(encoding="utf-8") as f:
        policies = {r["policy_number"]: r for r in csv.DictReader(f)}
    statuses: Counter[str] = Counter()
    for doc in shipped():
        policy = policies.get(str(doc.gold["policy_number"]))
        if policy is None:
            expected = "unknown_policy"
        elif not (policy["active_from"] <= str(doc.gold["incident_date"]) <= policy["active_to"]):
            expected = "outside_period"
        elif Decimal(str(doc.gold["claimed_amount"])) > Decimal(policy["coverage_limit"]):
            expected = "over_limit"
        else:
            expected = "ok"
        assert doc.metadata["policy_check"] == expected, doc.document_id
        statuses[expected] += 1
    assert statuses["ok"] >= 0.85 * len(shipped())
    assert all(statuses[s] >= 2 for s in ("unknown_policy", "outside_period", "over_limit"))
    for row in policies.values():
        assert row["currency"] == "USD" and Decimal(row["deductible"]) >= 0
        assert row["active_from"] < row["active_to"]


def test_vendors_are_a_share_of_the_sroie_companies() -> None:
    with (SAMPLES / "vendors.csv").open(encoding="utf-8") as f:
        vendors = list(csv.DictReader(f))
    assert vendors and all(Decimal(v["approval_threshold"]) > 0 for v in vendors)
    assert all(re.fullmatch(r"[A-Z]{3}(;[A-Z]{3})*", v["allowed_currencies"]) for v in vendors)
    sroie = DATA / "sroie" / "train.jsonl"
    if not sroie.exists():
        pytest.skip("data/sroie not shipped in this checkout")
    companies = {
        " ".join(str(json.loads(line)["entities"].get("company", "")).split())
        for line in sroie.read_text(encoding="utf-8").splitlines()
    }
    names = {v["name"] for v in vendors}
    assert names <= companies
    assert 0.4 <= len(names) / len(companies) <= 0.8


def test_samples_stay_small() -> None:
    assert (SAMPLES / "claims.jsonl").stat().st_size < 2_000_000
    notice = (SAMPLES / "NOTICE").read_text(encoding="utf-8")
    assert "synthetichealth/synthea" in notice and "Apache" in notice
