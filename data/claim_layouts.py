"""Four ways a health claim reaches an insurer, rendered as text lines.

Used by build_claims.py. Each layout takes a claim and a seeded `random.Random`
and varies labels, date and amount formats, and which distractors appear (birth
date, billing date, NPI, tax id, amounts already paid), the way real forms from
different senders differ. The gold value is always printed, never only implied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from random import Random
from typing import Any

Render = Callable[[Any, Random], list[str]]

POS = {  # CMS place-of-service codes for Synthea's encounter classes
    "ambulatory": "11",
    "wellness": "11",
    "outpatient": "22",
    "inpatient": "21",
    "emergency": "23",
    "urgentcare": "20",
    "home": "12",
    "virtual": "02",
    "snf": "31",
    "hospice": "34",
}
VISIT = {
    "ambulatory": "office visit",
    "wellness": "preventive (wellness) visit",
    "outpatient": "outpatient hospital visit",
    "inpatient": "inpatient admission",
    "emergency": "emergency department visit",
    "urgentcare": "urgent care visit",
    "home": "home visit",
    "virtual": "telehealth visit",
    "snf": "skilled nursing stay",
    "hospice": "hospice care",
}


def _num(*parts: str, digits: int) -> str:
    h = int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")
    return f"{h:020d}"[:digits]


def money(amount: Decimal, style: str) -> str:
    if style == "cms":  # the form's dollar and cent boxes, no separators
        return f"{amount:.2f}".replace(".", " ")
    if style == "plain":
        return f"{amount:.2f}"
    return f"{amount:,.2f}"


def day(d: date, style: str) -> str:
    months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    return {
        "iso": d.isoformat(),
        "us": f"{d.month:02d}/{d.day:02d}/{d.year}",
        "cms": f"{d.month:02d} {d.day:02d} {d.year}",
        "cms_short": f"{d.month:02d} {d.day:02d} {d.year % 100:02d}",
        "long": f"{months[d.month - 1]} {d.day}, {d.year}",
        "long_eu": f"{d.day} {months[d.month - 1]} {d.year}",
        "abbr": f"{d.day:02d}-{months[d.month - 1][:3]}-{d.year}",
        "abbr_us": f"{months[d.month - 1][:3]} {d.day}, {d.year}",
    }[style]


def _dx_rows(claim: Any, *, dots: bool) -> list[str]:
    cells = [
        f"{'ABCDEFGHIJKL'[i]}. {code if dots else code.replace('.', '')}"
        for i, (code, _) in enumerate(claim.diagnoses)
    ]
    return ["   ".join(cells[i : i + 4]) for i in range(0, len(cells), 4)]


def cms1500(claim: Any, rng: Random) -> list[str]:
    """The paper CMS-1500 read row by row: numbered boxes, upper case, no dots in
    ICD codes, amounts as dollars and cents boxes."""
    plans = ["MEDICARE", "MEDICAID", "TRICARE", "CHAMPVA", "GROUP HEALTH PLAN", "OTHER"]
    mark = {"Medicare": 0, "Dual Eligible": 0, "Medicaid": 1}.get(claim.payer, 4)
    npi = _num("npi", claim.provider, digits=10)
    middle = f" {claim.middle[0]}" if claim.middle else ""
    name = f"{claim.last.upper()}, {claim.first.upper()}{middle}"
    id_label = rng.choice(["1a. INSURED'S I.D. NUMBER", "1a. INSURED'S ID NUMBER", "1a INSURED ID NO."])
    out = [
        "HEALTH INSURANCE CLAIM FORM",
        "APPROVED BY NATIONAL UNIFORM CLAIM COMMITTEE (NUCC) 02/12",
        "1. " + "  ".join(f"{p} [{'X' if i == mark else ' '}]" for i, p in enumerate(plans)),
        f"{id_label}  (For Program in Item 1)  {claim.policy_number}",
        f"2. PATIENT'S NAME (Last Name, First Name, Middle Initial)  {name}",
        f"3. PATIENT'S BIRTH DATE  MM DD YY  {day(claim.birthdate, 'cms')}  SEX  {claim.gender}",
        f"4. INSURED'S NAME (Last Name, First Name, Middle Initial)  {rng.choice([name, 'SAME'])}",
        f"5. PATIENT'S ADDRESS (No., Street)  {claim.address.upper()}",
        f"11c. INSURANCE PLAN NAME OR PROGRAM NAME  {claim.payer.upper()}",
        f"12. PATIENT'S OR AUTHORIZED PERSON'S SIGNATURE  SIGNATURE ON FILE  "
        f"DATE {day(claim.billed_date, 'cms_short')}",
        f"14. DATE OF CURRENT ILLNESS, INJURY, OR PREGNANCY (LMP)  "
        f"{day(claim.service_date, 'cms')}  QUAL 431",
        f"17. NAME OF REFERRING PROVIDER OR OTHER SOURCE  DK  {claim.clinician.upper()}",
        f"17b. NPI  {npi}",
    ]
    if claim.unmapped:
        findings = "; ".join(f"{c} {d}" for c, d in claim.unmapped)
        out.append(f"19. ADDITIONAL CLAIM INFORMATION  SNOMED CT findings: {findings}")
    out += [
        "21. DIAGNOSIS OR NATURE OF ILLNESS OR INJURY  Relate A-L to service line below (24E)  ICD Ind. 0",
        *_dx_rows(claim, dots=False),
    ]
    out.append(
        "24. A. DATE(S) OF SERVICE From To  B. PLACE OF SERVICE  D. PROCEDURES, SERVICES, "
        "OR SUPPLIES  E. DIAGNOSIS POINTER  F. $ CHARGES  G. DAYS OR UNITS  J. RENDERING "
        "PROVIDER ID. #"
    )
    pointer = "ABCD"[: min(4, len(claim.diagnoses))]
    served = day(claim.service_date, "cms_short")
    for i, line in enumerate(claim.lines, start=1):
        out.append(
            f"{i}  {served}  {served}  {POS.get(claim.encounter_class, '11')}  "
            f"{line.code or 'SUPPLIES'}  {pointer}  {money(line.charge, 'cms')}  "
            f"{line.units}  NPI {npi}"
        )
    paid = rng.choice([Decimal(0), claim.patient_paid])
    out += [
        f"25. FEDERAL TAX I.D. NUMBER  {_num('ein', claim.provider, digits=2)}-"
        f"{_num('ein2', claim.provider, digits=7)}  EIN",
        f"26. PATIENT'S ACCOUNT NO.  {claim.claim_id[:8].upper()}  27. ACCEPT ASSIGNMENT? YES",
        f"28. TOTAL CHARGE  $ {money(claim.total, 'cms')}  29. AMOUNT PAID  $ {money(paid, 'cms')}",
        f"31. SIGNATURE OF PHYSICIAN OR SUPPLIER  {claim.clinician}  "
        f"DATE {day(claim.billed_date, 'cms_short')}",
        f"32. SERVICE FACILITY LOCATION INFORMATION  {claim.provider.upper()}  "
        f"{claim.provider_address.upper()}",
        f"33. BILLING PROVIDER INFO & PH #  ({claim.provider_phone})  {claim.provider.upper()}  "
        f"{claim.provider_address.upper()}  a. {npi}",
    ]
    return out


def letter(claim: Any, rng: Random) -> list[str]:
    """A provider's cover letter to the payer: prose, long dates, dollar amounts."""
    style = rng.choice(["long", "long_eu"])
    full = " ".join(p for p in (claim.prefix, claim.first, claim.middle, claim.last) if p)
    usd = rng.choice([lambda a: f"${money(a, 'us')}", lambda a: f"USD {money(a, 'us')}"])
    out = [
        claim.provider,
        claim.provider_address,
        f"Tel. {claim.provider_phone}",
        day(claim.billed_date, style),
        rng.choice([f"{claim.payer} - Claims Department", f"Attn: Claims Processing, {claim.payer}"]),
        f"RE: {rng.choice(['Claim for reimbursement', 'Medical claim', 'Insurance claim'])} - {full}",
        f"{rng.choice(['Member ID', 'Policy No.', 'Subscriber ID', 'Policy number'])}: {claim.policy_number}",
        f"Date of birth: {day(claim.birthdate, style)}",
        f"Our reference: {claim.claim_id[:8].upper()}",
        rng.choice(["Dear Sir or Madam,", "To whom it may concern,", "Dear Claims Examiner,"]),
        f"Please find below our claim for the {VISIT.get(claim.encounter_class, 'visit')} of the "
        f"above {rng.choice(['member', 'patient', 'insured'])} on {day(claim.service_date, style)}.",
        f"The attending clinician was {claim.clinician}.",
        "Diagnoses (ICD-10-CM):",
        *[f"  {code} - {desc}" for code, desc in claim.diagnoses],
    ]
    if claim.unmapped:
        out.append("Other findings recorded (SNOMED CT): " + "; ".join(f"{c} {d}" for c, d in claim.unmapped))
    out.append("Services rendered (SNOMED CT):")
    for line in claim.lines:
        times = f" x{line.units}" if line.units > 1 else ""
        out.append(f"  {line.code or '-'}  {line.description}{times}  {usd(line.charge)}")
    out.append(f"{rng.choice(['Total amount claimed', 'Total due', 'Amount claimed'])}: {usd(claim.total)}")
    if claim.patient_paid and rng.random() < 0.5:
        out.append(f"(Collected from the patient at the time of service: {usd(claim.patient_paid)})")
    out += [
        f"Kindly remit payment to {claim.provider}.",
        rng.choice(["Yours faithfully,", "Sincerely,", "Kind regards,"]),
        claim.clinician,
        f"on behalf of {claim.provider}",
    ]
    return out


def statement(claim: Any, rng: Random) -> list[str]:
    """An itemised statement / superbill: key-value header and a charge table."""
    style = rng.choice(["iso", "abbr", "us"])
    pad = 44
    out = [
        rng.choice(["ITEMIZED STATEMENT OF SERVICES", "SUPERBILL", "Patient Statement"]),
        f"{claim.provider} | {claim.provider_address} | NPI {_num('npi', claim.provider, digits=10)}",
        f"Statement date: {day(claim.billed_date, style)}",
        f"Patient: {claim.last}, {claim.first}    DOB: {day(claim.birthdate, style)}    Sex: {claim.gender}",
        f"Insurance: {claim.payer}    "
        f"{rng.choice(['ID #', 'Member no.', 'Policy #', 'Insured ID'])}: {claim.policy_number}"
        f"    Group #: {_num('group', claim.payer, digits=6)}",
        f"{rng.choice(['Date of service', 'DOS', 'Visit date'])}: {day(claim.service_date, style)}"
        f"    Visit: {claim.encounter_class.title()}",
        f"Rendering provider: {claim.clinician}",
        f"{rng.choice(['Dx codes', 'ICD-10', 'Diagnosis'])}: "
        + rng.choice([", ", " | ", " / "]).join(c for c, _ in claim.diagnoses),
    ]
    if claim.unmapped:
        out.append("Notes (SNOMED CT): " + ", ".join(f"{c} {d}" for c, d in claim.unmapped))
    out.append(f"{'Code':<18}{'Description':<{pad}}{'Units':>5}{'Charge':>12}")
    for line in claim.lines:
        out.append(
            f"{line.code or '':<18}{line.description[: pad - 1]:<{pad}}"
            f"{line.units:>5}{money(line.charge, 'us'):>12}"
        )
    paid = claim.patient_paid if rng.random() < 0.5 else Decimal(0)
    out += [
        f"{rng.choice(['Total charges', 'Total billed', 'TOTAL'])}: {money(claim.total, 'plain')} USD",
        f"Insurance payments: 0.00    Patient payments: {money(paid, 'plain')}",
        f"Balance: {money(claim.total - paid, 'plain')}",
    ]
    return out


def member_form(claim: Any, rng: Random) -> list[str]:
    """A payer's member reimbursement form, filled in by the member."""
    style = rng.choice(["us", "abbr_us", "long"])
    upper = rng.random() < 0.5  # "please write in block capitals" is not always obeyed
    name = f"{claim.first} {claim.middle + ' ' if claim.middle else ''}{claim.last}"
    out = [
        f"{claim.payer} - {rng.choice(['Member Claim Form', 'Medical Reimbursement Claim'])}",
        "Please complete all sections in block capitals.",
        "SECTION A - MEMBER DETAILS",
        f"Member's full name: {name.upper() if upper else name}",
        f"{rng.choice(['Membership number', 'Policy/Certificate no.', 'Member ID'])}: {claim.policy_number}",
        f"Date of birth: {day(claim.birthdate, style)}",
        f"Home address: {claim.address}",
        "SECTION B - TREATMENT",
        f"{rng.choice(['Doctor / clinic / hospital', 'Name of provider', 'Treated at'])}: {claim.provider}",
        f"Treating practitioner: {claim.clinician}",
        f"{rng.choice(['Date of treatment', 'Date(s) of service', 'Treatment date'])}: "
        f"{day(claim.service_date, style)}",
        f"Type of visit: {VISIT.get(claim.encounter_class, 'visit')}",
        "Diagnosis (ICD-10 code and description): " + "; ".join(f"{c} {d}" for c, d in claim.diagnoses),
    ]
    if claim.unmapped:
        out.append(
            "Other conditions noted by the doctor (SNOMED CT): "
            + "; ".join(f"{c} {d}" for c, d in claim.unmapped)
        )
    out.append("SECTION C - AMOUNT CLAIMED")
    for line in claim.lines:
        code = f" (SNOMED {line.code})" if line.code else ""
        out.append(f"  {line.description}{code}: $ {money(line.charge, 'us')}")
    out += [
        f"{rng.choice(['Total amount claimed', 'Total claimed', 'Amount you are claiming'])}: "
        f"$ {money(claim.total, 'us')}",
        "Currency: USD",
        "SECTION D - DECLARATION",
        f"Signed: {claim.first} {claim.last}    Date: {day(claim.billed_date, style)}",
    ]
    return out


LAYOUTS: dict[str, Render] = {
    "cms1500": cms1500,
    "letter": letter,
    "statement": statement,
    "member_form": member_form,
}
