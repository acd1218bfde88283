"""Build the shipped health-claim samples from Synthea's sample CSV output.

    .venv/bin/python data/build_claims.py --synthea /work/shared/data/synthea \\
        --out data/samples/claims.jsonl --n 400

Writes, next to --out: claims.jsonl (one `LabelledDocument` per line), policies.csv
(reference data the rules check claims against) and vendors.csv (approval settings
for a share of the SROIE receipt vendors). Everything is seeded: the same inputs
and --seed give the same bytes.

Each Synthea claim becomes a text document in one of four layouts (a CMS-1500-like
form, a provider's letter, an itemised statement, a member reimbursement form) with
varied labels, field order, date and amount formats, and distractors (birth date,
billing date, NPI, tax id, amounts paid) so that extraction is not a lookup.

Gold conventions: dates ISO 8601; amounts plain decimals; names "First Last" (the
documents may print "LAST, FIRST M"); codes comma separated without spaces;
diagnosis codes ICD-10-CM with the dot. Synthea codes diagnoses in SNOMED CT: codes
in data/samples/snomed_icd10cm.csv (a curated, hand-checked table, every target
validated with simple-icd-10-cm) are mapped; unmapped ones stay on the document as
SNOMED CT "additional findings" and are listed in metadata `unmapped_snomed`, not in
the gold. Procedure codes stay SNOMED CT (Synthea has no CPT codes).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: siblings
from claim_layouts import LAYOUTS
from reference_tables import build_policies, build_vendors

from schemas.document import LabelledDocument, Line

CENT = Decimal("0.01")
MAX_SERVICE_LINES = 6  # the CMS-1500 form has six service lines
UNINSURED = "NO_INSURANCE"


@dataclass(frozen=True)
class ServiceLine:
    code: str | None  # SNOMED CT; None for the "other services" remainder
    description: str
    units: int
    charge: Decimal


@dataclass(frozen=True)
class Claim:
    claim_id: str
    patient_id: str
    prefix: str
    first: str
    middle: str
    last: str
    birthdate: date
    gender: str
    address: str
    payer: str
    payer_ownership: str
    policy_number: str
    service_date: date
    billed_date: date
    encounter_class: str
    clinician: str
    provider: str
    provider_address: str
    provider_phone: str
    diagnoses: tuple[tuple[str, str], ...]  # (ICD-10-CM, description)
    unmapped: tuple[tuple[str, str], ...]  # (SNOMED CT, description)
    lines: tuple[ServiceLine, ...]
    total: Decimal
    patient_paid: Decimal

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def _name(text: str) -> str:
    """Synthea numbers its generated names (Walker122); people are not numbered."""
    return " ".join(re.sub(r"\d+", "", text).split())


_SEMANTIC_TAGS = "|".join(
    ["procedure", "disorder", "finding", "situation", "regime/therapy", "morphologic abnormality",
     "observable entity", "environment", "event"]
)  # fmt: skip


def _term(text: str) -> str:
    """SNOMED terms without their semantic tag: "Sinusitis (disorder)" -> "Sinusitis"."""
    text = re.sub(rf"\s*\(({_SEMANTIC_TAGS})\)$", "", text)
    return " ".join(text.split())


def policy_number(*, patient_id: str, payer: str) -> str:
    """Stable, payer-styled member id for one patient's cover with one payer."""
    h = _digest(patient_id, payer)
    digits = f"{h:020d}"
    letters = "ACDEFGHJKMNPQRTUVWXY"  # Medicare's MBI alphabet (no S L O I B Z)
    pick = [letters[(h >> (5 * i)) % len(letters)] for i in range(6)]
    if payer in ("Medicare", "Dual Eligible"):  # MBI shape: 1EG4-TE5-MK73
        a, b, c, d, e, f = pick
        return f"{1 + h % 9}{a}{b}{digits[1]}{c}{d}{digits[2]}{e}{f}{digits[3:5]}"
    styles = {
        "Medicaid": f"MA{digits[:10]}",
        "Humana": f"H{digits[:8]}",
        "Blue Cross Blue Shield": f"{''.join(pick[:3])}{digits[:9]}",
        "UnitedHealthcare": f"{digits[:9]}",
        "Aetna": f"W{digits[:9]}",
        "Cigna Health": f"U{digits[:8]}01",
        "Anthem": f"{''.join(pick[3:6])}W{digits[:8]}",
    }
    return styles.get(payer, f"P{digits[:10]}")


def load_claims(*, synthea: Path, icd_map: dict[str, tuple[str, str]]) -> list[Claim]:
    """Every Synthea claim that can make a sensible insurer's claim document."""
    patients = {r["Id"]: r for r in _read(synthea / "patients.csv")}
    payers = {r["Id"]: r for r in _read(synthea / "payers.csv")}
    providers = {r["Id"]: r for r in _read(synthea / "providers.csv")}
    orgs = {r["Id"]: r for r in _read(synthea / "organizations.csv")}
    encounters = {r["Id"]: r for r in _read(synthea / "encounters.csv")}
    terms: dict[str, str] = {}
    for r in _read(synthea / "conditions.csv"):
        terms[r["CODE"]] = r["DESCRIPTION"]
    for r in encounters.values():
        terms.setdefault(r["CODE"], r["DESCRIPTION"])
        if r["REASONCODE"]:
            terms.setdefault(r["REASONCODE"], r["REASONDESCRIPTION"])
    procedures: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in _read(synthea / "procedures.csv"):
        procedures[r["ENCOUNTER"]].append(r)
    claims = []
    for row in _read(synthea / "claims.csv"):
        payer = payers.get(row["PRIMARYPATIENTINSURANCEID"])
        enc = encounters.get(row["APPOINTMENTID"])
        if not payer or payer["NAME"] == UNINSURED or not enc:
            continue
        claim = _claim(row, enc, payer, patients, providers, orgs, terms, procedures, icd_map)
        if claim is not None:
            claims.append(claim)
    return sorted(claims, key=lambda c: c.claim_id)


def _claim(
    row: dict[str, str],
    enc: dict[str, str],
    payer: dict[str, str],
    patients: dict[str, dict[str, str]],
    providers: dict[str, dict[str, str]],
    orgs: dict[str, dict[str, str]],
    terms: dict[str, str],
    procedures: dict[str, list[dict[str, str]]],
    icd_map: dict[str, tuple[str, str]],
) -> Claim | None:
    snomed = [row[f"DIAGNOSIS{i}"] for i in range(1, 9) if row[f"DIAGNOSIS{i}"]]
    diagnoses = list(dict.fromkeys(icd_map[c] for c in snomed if c in icd_map))
    unmapped = [(c, _term(terms.get(c, "unspecified finding"))) for c in snomed if c not in icd_map]
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for p in procedures.get(enc["Id"], []):
        grouped[p["CODE"]].append(p)
    lines = [ServiceLine(enc["CODE"], _term(enc["DESCRIPTION"]), 1, Decimal(enc["BASE_ENCOUNTER_COST"]))]
    for code, ps in grouped.items():
        charge = sum((Decimal(p["BASE_COST"]) for p in ps), Decimal(0))
        lines.append(ServiceLine(code, _term(ps[0]["DESCRIPTION"]), len(ps), charge))
    rest = Decimal(enc["TOTAL_CLAIM_COST"]) - sum((ln.charge for ln in lines), Decimal(0))
    if rest >= CENT:  # medications and immunisations Synthea costs but does not list here
        lines.append(ServiceLine(None, "Medications, supplies and other services", 1, rest))
    if not diagnoses or len(lines) > MAX_SERVICE_LINES:
        return None
    patient, clinician = patients[row["PATIENTID"]], providers[row["PROVIDERID"]]
    org = orgs[clinician["ORGANIZATION"]]
    total = sum((ln.charge for ln in lines), Decimal(0)).quantize(CENT)
    covered = Decimal(enc["PAYER_COVERAGE"])
    return Claim(
        claim_id=row["Id"],
        patient_id=row["PATIENTID"],
        prefix=patient["PREFIX"],
        first=_name(patient["FIRST"]),
        middle=_name(patient["MIDDLE"]),
        last=_name(patient["LAST"]),
        birthdate=date.fromisoformat(patient["BIRTHDATE"]),
        gender=patient["GENDER"],
        address=f"{patient['ADDRESS']}, {patient['CITY']}, {patient['STATE']}",
        payer=payer["NAME"],
        payer_ownership=payer["OWNERSHIP"],
        policy_number=policy_number(patient_id=row["PATIENTID"], payer=payer["NAME"]),
        service_date=date.fromisoformat(row["SERVICEDATE"][:10]),
        billed_date=date.fromisoformat((row["LASTBILLEDDATE1"] or row["SERVICEDATE"])[:10]),
        encounter_class=enc["ENCOUNTERCLASS"],
        clinician=_name(clinician["NAME"]),
        provider=" ".join(org["NAME"].split()),
        provider_address=f"{org['ADDRESS']}, {org['CITY']}, {org['STATE']} {org['ZIP'][:5]}",
        provider_phone=org["PHONE"].split(" Or ")[0],
        diagnoses=tuple(diagnoses),
        unmapped=tuple(dict.fromkeys(unmapped)),
        lines=tuple(lines),
        total=total,
        patient_paid=max(Decimal(enc["TOTAL_CLAIM_COST"]) - covered, Decimal(0)).quantize(CENT),
    )


def split_of(patient_id: str) -> str:
    """By patient, so one person's claims never sit on both sides (names would leak)."""
    return "test" if _digest("split", patient_id) % 5 == 0 else "train"


def to_document(claim: Claim, *, seed: int, policy_check: str) -> LabelledDocument:
    rng = random.Random(f"{seed}:{claim.claim_id}")
    layout = rng.choice(sorted(LAYOUTS))
    text = LAYOUTS[layout](claim, rng)
    codes = [ln.code for ln in claim.lines if ln.code]
    return LabelledDocument(
        document_id=f"synthea-{claim.claim_id}",
        kind="claim",
        claim_type="health",
        lines=[Line(text=t) for t in text if t.strip()],
        gold={
            "claimant_name": claim.name,
            "policy_number": claim.policy_number,
            "incident_date": claim.service_date.isoformat(),
            "claim_type": "health",
            "claimed_amount": str(claim.total),
            "currency": "USD",
            "diagnosis_codes": ",".join(code for code, _ in claim.diagnoses),
            "procedure_codes": ",".join(dict.fromkeys(codes)),
            "provider_name": claim.provider,
        },
        split=split_of(claim.patient_id),
        metadata={
            "source": "synthea",
            "synthea_claim_id": claim.claim_id,
            "payer": claim.payer,
            "encounter_class": claim.encounter_class,
            "layout": layout,
            "diagnosis_code_system": "ICD-10-CM",
            "procedure_code_system": "SNOMED-CT",
            "unmapped_snomed": ",".join(code for code, _ in claim.unmapped),
            "policy_check": policy_check,
        },
    )


def _write_csv(path: Path, rows: list[dict[str, str]], fields: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def build(
    *, synthea: Path, out: Path, n: int, seed: int, icd_map: Path, sroie: Path | None
) -> dict[str, int]:
    """Write claims.jsonl at `out` and policies.csv/vendors.csv beside it."""
    table = {r["snomed_code"]: (r["icd10cm_code"], r["icd10cm_description"]) for r in _read(icd_map)}
    every = load_claims(synthea=synthea, icd_map=table)
    sampled = sorted(random.Random(seed).sample(every, min(n, len(every))), key=lambda c: c.claim_id)
    policies, status = build_policies(sampled=sampled, every=every, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as f:
        for claim in sampled:
            doc = to_document(claim, seed=seed, policy_check=status[claim.claim_id])
            f.write(doc.model_dump_json(exclude_defaults=True) + "\n")
    _write_csv(out.parent / "policies.csv", policies, list(policies[0]) if policies else ["policy_number"])
    counts = {"eligible": len(every), "claims": len(sampled), "policies": len(policies)}
    for value in status.values():
        counts[f"policy_check_{value}"] = counts.get(f"policy_check_{value}", 0) + 1
    if sroie is not None:
        vendors = build_vendors(sroie=sroie, seed=seed)
        _write_csv(out.parent / "vendors.csv", vendors, ["name", "allowed_currencies", "approval_threshold"])
        counts["vendors"] = len(vendors)
    return counts


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthea", type=Path, required=True, help="folder of Synthea CSVs")
    parser.add_argument("--out", type=Path, default=here / "samples" / "claims.jsonl")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1500)
    parser.add_argument("--icd-map", type=Path, default=here / "samples" / "snomed_icd10cm.csv")
    parser.add_argument("--sroie", type=Path, default=None, help="SROIE train.jsonl for vendors.csv")
    args = parser.parse_args(argv)
    sroie = args.sroie
    if sroie is None:
        candidates = (
            here / "sroie" / "train.jsonl",
            here.parents[1] / "shared" / "data" / "sroie" / "train.jsonl",
        )
        sroie = next((p for p in candidates if p.exists()), None)
    counts = build(
        synthea=args.synthea, out=args.out, n=args.n, seed=args.seed, icd_map=args.icd_map, sroie=sroie
    )
    print(json.dumps(counts, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
