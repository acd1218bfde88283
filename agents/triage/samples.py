"""Auto-claim documents rendered from rows of the structured claims table.

There is no corpus of auto first-notice-of-loss letters we may ship, so training and
benchmarks render the shared table's rows as short claim forms. `needs_review` comes
from `fraud_reported`: a claim a person had to stop. Nothing rendered here is stored.
"""

from __future__ import annotations

import random
from pathlib import Path

from agents.triage.claims_risk import read_claims
from schemas.document import LabelledDocument, Line

_TITLES = ("FIRST NOTICE OF LOSS", "Auto Claim Form", "Motor Vehicle Accident Report", "CLAIM")


def _lines(row: dict[str, str], rng: random.Random) -> list[str]:
    lines = [
        rng.choice(_TITLES),
        f"Policy number: {row['policy_number']}",
        f"Policy state: {row['policy_state']}  CSL: {row['policy_csl']}",
        f"Date of incident: {row['incident_date']}  Hour: {row['incident_hour_of_the_day']}",
        f"Incident type: {row['incident_type']}",
        f"Collision type: {row['collision_type']}",
        f"Severity: {row['incident_severity']}",
        f"Authorities contacted: {row['authorities_contacted']}",
        f"Location: {row['incident_location']}, {row['incident_city']}, {row['incident_state']}",
        f"Vehicles involved: {row['number_of_vehicles_involved']}  Witnesses: {row['witnesses']}",
        f"Police report available: {row['police_report_available']}",
        f"Vehicle: {row['auto_make']} {row['auto_model']} {row['auto_year']}",
        f"Injury claim: {row['injury_claim']}  Property claim: {row['property_claim']}",
        f"Vehicle claim: {row['vehicle_claim']}",
        f"Total claimed: {row['total_claim_amount']}",
    ]
    head, body = lines[:2], lines[2:]
    rng.shuffle(body)
    return head + body


def auto_claim_documents(csv_path: Path, *, seed: int = 0) -> list[LabelledDocument]:
    docs = []
    for row in read_claims(csv_path):
        rng = random.Random(f"{seed}:{row['policy_number']}")
        docs.append(
            LabelledDocument(
                document_id=f"autoclaim-{row['policy_number']}",
                kind="claim",
                claim_type="auto",
                lines=[Line(text=t) for t in _lines(row, rng)],
                metadata={
                    "source": "auto-claims-csv",
                    "needs_review": "true" if row["fraud_reported"].strip() == "Y" else "false",
                },
                gold={
                    "policy_number": row["policy_number"],
                    "claimed_amount": row["total_claim_amount"],
                },
            )
        )
    return docs
