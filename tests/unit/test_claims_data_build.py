"""data/build_claims.py on a tiny synthetic Synthea-shaped fixture: which claims it
keeps, what gold it derives, and that two runs give the same bytes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.document import LabelledDocument
from tests.unit.test_claims_data_samples import gold_problems

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "data" / "build_claims.py"
AETNA, MEDICARE, NONE = "pay-aetna", "pay-medicare", "pay-none"
ENCOUNTER_COLUMNS = [
    "Id", "START", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER", "ENCOUNTERCLASS", "CODE",
    "DESCRIPTION", "BASE_ENCOUNTER_COST", "TOTAL_CLAIM_COST", "PAYER_COVERAGE", "REASONCODE",
    "REASONDESCRIPTION",
]  # fmt: skip
CLAIM_COLUMNS = [
    "Id", "PATIENTID", "PROVIDERID", "PRIMARYPATIENTINSURANCEID", "APPOINTMENTID",
    *[f"DIAGNOSIS{i}" for i in range(1, 9)], "SERVICEDATE", "LASTBILLEDDATE1",
]  # fmt: skip


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _encounter(eid: str, patient: str, cls: str, base: str, total: str) -> dict[str, str]:
    return {
        "Id": eid, "PATIENT": patient, "ENCOUNTERCLASS": cls, "CODE": "185345009",
        "DESCRIPTION": "Encounter for symptom (procedure)", "BASE_ENCOUNTER_COST": base,
        "TOTAL_CLAIM_COST": total, "PAYER_COVERAGE": "10.00",
    }  # fmt: skip


def _claim(cid: str, patient: str, payer: str, eid: str, day: str, *dx: str) -> dict[str, str]:
    row = {
        "Id": cid, "PATIENTID": patient, "PROVIDERID": "doc-1", "PRIMARYPATIENTINSURANCEID": payer,
        "APPOINTMENTID": eid, "SERVICEDATE": f"{day}T10:00:00Z", "LASTBILLEDDATE1": f"{day}T11:00:00Z",
    }  # fmt: skip
    row.update({f"DIAGNOSIS{i}": code for i, code in enumerate(dx, start=1)})
    return row


@pytest.fixture(scope="module")
def synthea(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two patients, eight claims: four keepable, four that must be skipped."""
    tmp_path = tmp_path_factory.mktemp("fixture")
    d = tmp_path / "synthea"
    d.mkdir()
    _write(
        d / "patients.csv",
        ["Id", "BIRTHDATE", "PREFIX", "FIRST", "MIDDLE", "LAST", "GENDER", "ADDRESS", "CITY", "STATE"],
        [
            {"Id": "pat-a", "BIRTHDATE": "1980-02-03", "PREFIX": "Ms.", "FIRST": "Ada123",
             "MIDDLE": "Jo45", "LAST": "Lovel678", "GENDER": "F", "ADDRESS": "1 Elm St",
             "CITY": "Salem", "STATE": "Massachusetts"},
            {"Id": "pat-b", "BIRTHDATE": "1950-07-08", "PREFIX": "Mr.", "FIRST": "Bo9",
             "MIDDLE": "", "LAST": "Smith12", "GENDER": "M", "ADDRESS": "2 Oak Ave",
             "CITY": "Lynn", "STATE": "Massachusetts"},
        ],
    )  # fmt: skip
    _write(
        d / "payers.csv",
        ["Id", "NAME", "OWNERSHIP"],
        [
            {"Id": AETNA, "NAME": "Aetna", "OWNERSHIP": "PRIVATE"},
            {"Id": MEDICARE, "NAME": "Medicare", "OWNERSHIP": "GOVERNMENT"},
            {"Id": NONE, "NAME": "NO_INSURANCE", "OWNERSHIP": "NO_INSURANCE"},
        ],
    )
    _write(
        d / "providers.csv",
        ["Id", "ORGANIZATION", "NAME"],
        [{"Id": "doc-1", "ORGANIZATION": "org-1", "NAME": "Gil34 House56"}],
    )
    _write(
        d / "organizations.csv",
        ["Id", "NAME", "ADDRESS", "CITY", "STATE", "ZIP", "PHONE"],
        [{"Id": "org-1", "NAME": "Salem Family Practice", "ADDRESS": "9 Main St",
          "CITY": "Salem", "STATE": "MA", "ZIP": "01970", "PHONE": "978-555-0100"}],
    )  # fmt: skip
    _write(
        d / "encounters.csv",
        ENCOUNTER_COLUMNS,
        [
            _encounter("enc-1", "pat-a", "ambulatory", "85.55", "1000.00"),
            _encounter("enc-2", "pat-a", "wellness", "136.80", "136.80"),
            _encounter("enc-3", "pat-b", "inpatient", "85.55", "60085.55"),
            _encounter("enc-4", "pat-b", "emergency", "85.55", "85.55"),
            _encounter("enc-5", "pat-a", "ambulatory", "85.55", "85.55"),
        ],
    )
    _write(
        d / "conditions.csv",
        ["CODE", "DESCRIPTION"],
        [
            {"CODE": "444814009", "DESCRIPTION": "Viral sinusitis (disorder)"},
            {"CODE": "160903007", "DESCRIPTION": "Full-time employment (finding)"},
        ],
    )
    procedures = [("enc-1", "171207006", "Depression screening (procedure)", "200.00")] * 2
    procedures += [("enc-1", "5880005", "Physical examination procedure (procedure)", "431.40")]
    procedures += [("enc-3", "52765003", "Intubation (procedure)", "60000.00")]
    procedures += [("enc-5", f"10000{i}", f"Procedure {i} (procedure)", "1.00") for i in range(7)]
    _write(
        d / "procedures.csv",
        ["ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST"],
        [dict(zip(["ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST"], p, strict=True)) for p in procedures],
    )
    _write(
        d / "claims.csv",
        CLAIM_COLUMNS,
        [
            _claim("c1", "pat-a", AETNA, "enc-1", "2020-03-04", "444814009", "160903007"),
            _claim("c2", "pat-a", AETNA, "enc-2", "2021-05-06", "59621000"),
            _claim("c3", "pat-b", MEDICARE, "enc-3", "2019-01-02", "44054006", "55822004"),
            _claim("c4", "pat-b", MEDICARE, "enc-4", "2019-09-10", "10509002"),
            _claim("x-uninsured", "pat-b", NONE, "enc-4", "2019-09-10", "10509002"),
            _claim("x-no-payer", "pat-b", "", "enc-4", "2019-09-10", "10509002"),
            _claim("x-unmapped-only", "pat-b", MEDICARE, "enc-4", "2019-09-10", "160903007"),
            _claim("x-seven-lines", "pat-a", AETNA, "enc-5", "2020-08-09", "444814009"),
        ],
    )
    sroie = tmp_path / "sroie.jsonl"
    sroie.write_text(
        "".join(
            json.dumps({"entities": {"company": f"SHOP {i} SDN BHD", "total": f"{i}.50"}}) + "\n"
            for i in range(1, 31)
        ),
        encoding="utf-8",
    )
    return d


def _build(synthea: Path, out: Path, seed: int = 1500) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--synthea", str(synthea), "--out", str(out / "claims.jsonl"),
         "--n", "10", "--seed", str(seed), "--sroie", str(synthea.parent / "sroie.jsonl")],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    counts: dict[str, int] = json.loads(done.stdout)
    return counts


@pytest.fixture(scope="module")
def built(synthea: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("built")
    return out, _build(synthea, out)


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_same_inputs_give_the_same_bytes(
    synthea: Path, built: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    first, second, other = built[0], tmp_path / "two", tmp_path / "other-seed"
    _build(synthea, second)
    _build(synthea, other, seed=7)
    assert set(_outputs(first)) == {"claims.jsonl", "policies.csv", "vendors.csv"}
    assert _outputs(first) == _outputs(second)
    assert _outputs(first)["claims.jsonl"] != _outputs(other)["claims.jsonl"]


def test_keeps_only_claims_an_insurer_could_receive(built: tuple[Path, dict[str, int]]) -> None:
    tmp_path, counts = built
    docs = [
        LabelledDocument.model_validate_json(line)
        for line in (tmp_path / "claims.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert counts["eligible"] == counts["claims"] == 4
    assert sorted(d.metadata["synthea_claim_id"] for d in docs) == ["c1", "c2", "c3", "c4"]
    assert all(gold_problems(d) == [] for d in docs)
    assert {d.split for d in docs} <= {"train", "test"}
    assert len({d.split for d in docs if d.gold["claimant_name"] == "Ada Lovel"}) == 1


def test_derived_gold(built: tuple[Path, dict[str, int]]) -> None:
    tmp_path = built[0]
    by_id = {
        d.metadata["synthea_claim_id"]: d
        for d in map(
            LabelledDocument.model_validate_json,
            (tmp_path / "claims.jsonl").read_text(encoding="utf-8").splitlines(),
        )
    }
    c1 = by_id["c1"]
    assert c1.gold["claimant_name"] == "Ada Lovel"
    assert c1.gold["incident_date"] == "2020-03-04"
    # encounter 85.55 + procedures 400.00 + 431.40 + the rest of the total as "other"
    assert Decimal(str(c1.gold["claimed_amount"])) == Decimal("1000.00")
    assert c1.gold["diagnosis_codes"] == "J01.90"
    assert c1.metadata["unmapped_snomed"] == "160903007"
    assert c1.gold["procedure_codes"] == "185345009,171207006,5880005"
    assert c1.gold["provider_name"] == "Salem Family Practice"
    assert c1.gold["currency"] == "USD" and c1.metadata["payer"] == "Aetna"
    assert by_id["c3"].gold["diagnosis_codes"] == "E11.9,E78.5"
    # one patient's cover with one payer is one policy number, whatever the claim
    assert c1.gold["policy_number"] == by_id["c2"].gold["policy_number"]
    assert by_id["c3"].gold["policy_number"] != c1.gold["policy_number"]


def test_reference_tables(built: tuple[Path, dict[str, int]]) -> None:
    tmp_path = built[0]
    with (tmp_path / "policies.csv").open(encoding="utf-8") as f:
        policies = list(csv.DictReader(f))
    with (tmp_path / "vendors.csv").open(encoding="utf-8") as f:
        vendors = list(csv.DictReader(f))
    assert list(policies[0]) == [
        "policy_number", "holder", "active_from", "active_to", "coverage_limit", "deductible",
        "currency",
    ]  # fmt: skip
    assert {p["holder"] for p in policies} <= {"Ada Lovel", "Bo Smith"}
    assert list(vendors[0]) == ["name", "allowed_currencies", "approval_threshold"]
    assert 5 <= len(vendors) < 30
