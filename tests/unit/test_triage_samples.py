"""Small synthetic labelled documents for triage tests (no shared data needed).

Imported by the other test_triage_* modules; its own test checks the generator.
"""

from __future__ import annotations

import random

from schemas.document import LabelledDocument, Line

VENDORS = ("ABC Trading", "Kedai Maju", "Acme GmbH", "Blue Ocean Sdn Bhd", "Nordic Supplies")
CONDITIONS = ("E11.9 Type 2 diabetes", "I10 Essential hypertension", "J06.9 Acute URI")


def invoice(i: int, rng: random.Random) -> LabelledDocument:
    total = rng.randint(5, 900)
    text = [
        rng.choice(VENDORS),
        f"INVOICE NO: {rng.randint(1000, 9999)}",
        f"DATE: 0{rng.randint(1, 9)}/0{rng.randint(1, 9)}/2019",
        f"ITEM {rng.randint(1, 5)} x {total / 2:.2f}",
        "SUBTOTAL", f"{total * 0.94:.2f}", "GST 6%", f"{total * 0.06:.2f}",
        "TOTAL AMOUNT:", f"{total:.2f}", "THANK YOU, PLEASE COME AGAIN",
    ]  # fmt: skip
    return LabelledDocument(document_id=f"inv-{i}", kind="invoice", lines=[Line(text=t) for t in text])


def health(i: int, rng: random.Random) -> LabelledDocument:
    text = [
        "HEALTH INSURANCE CLAIM FORM",
        f"Patient: Jane Doe {i}",
        f"Member ID: H{rng.randint(100000, 999999)}",
        f"Date of service: 2023-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        f"Diagnosis: {rng.choice(CONDITIONS)}",
        f"Provider: Clinic {rng.randint(1, 50)} NPI {rng.randint(10**9, 10**10 - 1)}",
        f"Total charges: {rng.randint(80, 4000)}.00 USD",
    ]
    return LabelledDocument(
        document_id=f"health-{i}",
        kind="claim",
        claim_type="health",
        lines=[Line(text=t) for t in text],
    )


def auto(i: int, rng: random.Random, *, needs_review: bool | None = None) -> LabelledDocument:
    theft = needs_review if needs_review is not None else rng.random() < 0.3
    text = [
        "FIRST NOTICE OF LOSS - AUTO",
        f"Policy number: {rng.randint(100000, 999999)}",
        f"VIN: 1HGCM8{rng.randint(1000, 9999)}A00{rng.randint(1000, 9999)}",
        "Incident type: Vehicle Theft" if theft else "Incident type: Rear collision",
        f"Police report available: {'NO' if theft else 'YES'}",
        f"Vehicle: Honda Accord {rng.randint(1998, 2015)}",
        f"Total claimed: {rng.randint(1000, 60000)}",
    ]
    meta = {} if needs_review is None else {"needs_review": "true" if theft else "false"}
    return LabelledDocument(
        document_id=f"auto-{i}",
        kind="claim",
        claim_type="auto",
        lines=[Line(text=t) for t in text],
        metadata=meta,
    )


def corpus(n: int = 15, seed: int = 0) -> list[LabelledDocument]:
    rng = random.Random(seed)
    docs = [invoice(i, rng) for i in range(n)] + [health(i, rng) for i in range(n)]
    return docs + [auto(i, rng, needs_review=i % 3 == 0) for i in range(2 * n)]


def test_corpus_is_balanced_and_labelled() -> None:
    docs = corpus(n=4)
    assert len(docs) == 16 and len({d.document_id for d in docs}) == 16
    assert sum(d.metadata.get("needs_review") == "true" for d in docs) == 3
