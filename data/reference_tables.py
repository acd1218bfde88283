"""Reference tables that rules check documents against, built beside the samples.

policies.csv: one row per policy the sampled health claims name (policy_number,
holder, active_from, active_to, coverage_limit per claim, deductible, currency).
vendors.csv: approval settings for a share of the SROIE receipt vendors (name,
allowed_currencies separated by ";", approval_threshold in MYR).

Both carry deliberate exceptions (lapsed or missing policies, limits and thresholds
below a real document's amount) so that rules have real cases to catch; each
claim's true status is returned so the generator can record it.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, Protocol


class ClaimFacts(Protocol):
    @property
    def claim_id(self) -> str: ...
    @property
    def policy_number(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def payer_ownership(self) -> str: ...
    @property
    def service_date(self) -> date: ...
    @property
    def total(self) -> Decimal: ...


def build_policies(
    *, sampled: Sequence[ClaimFacts], every: Sequence[ClaimFacts], seed: int
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """One row per policy the sampled claims name, and each claim's true status
    against the table. A few policies are made to lapse early, carry a limit below
    a claim, or go missing, so the rules have something real to catch."""
    rng = random.Random(f"{seed}:policies")
    span: dict[str, list[date]] = defaultdict(list)
    for c in every:
        span[c.policy_number].append(c.service_date)
    by_policy: dict[str, list[ClaimFacts]] = defaultdict(list)
    for c in sampled:
        by_policy[c.policy_number].append(c)
    rows: dict[str, dict[str, Any]] = {}
    for number in sorted(by_policy):
        claims = by_policy[number]
        first, last = min(span[number]), max(span[number])
        top = max(c.total for c in claims)
        government = claims[0].payer_ownership == "GOVERNMENT"
        row: dict[str, Any] = {
            "policy_number": number,
            "holder": claims[0].name,
            "active_from": date(first.year, 1, 1),
            "active_to": date(last.year, 12, 31),
            "coverage_limit": next(t for t in _LIMITS if t >= top * Decimal("1.25")),
            "deductible": Decimal(rng.choice((0, 250) if government else (250, 500, 1000, 2500))),
            "currency": "USD",
        }
        roll = rng.random()
        if roll < 0.02:
            continue  # unknown to the insurer
        if roll < 0.06:  # lapsed a month before the latest claim
            latest = max(c.service_date for c in claims)
            row["active_to"] = latest - timedelta(days=30)
            row["active_from"] = min(row["active_from"], row["active_to"] - timedelta(days=365))
        elif roll < 0.13 and top >= 200:  # limit too low for the largest claim
            row["coverage_limit"] = (top * Decimal("0.6")).quantize(Decimal(100), ROUND_DOWN)
        rows[number] = row
    status = {c.claim_id: _policy_check(c, rows.get(c.policy_number)) for c in sampled}
    table = [{k: _text(v) for k, v in row.items()} for row in rows.values()]
    return table, status


def _text(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


_LIMITS = tuple(Decimal(x) for x in (5000, 10000, 25000, 50000, 100000, 250000, 500000, 10**7))


def _policy_check(claim: ClaimFacts, policy: dict[str, Any] | None) -> str:
    if policy is None:
        return "unknown_policy"
    if not policy["active_from"] <= claim.service_date <= policy["active_to"]:
        return "outside_period"
    return "over_limit" if claim.total > policy["coverage_limit"] else "ok"


def build_vendors(*, sroie: Path, seed: int) -> list[dict[str, str]]:
    """Approval settings for about 60% of the SROIE receipt vendors; the rest stay
    unknown so an unknown-vendor rule has real cases. Thresholds are in MYR; about
    one vendor in ten gets a threshold below its largest receipt."""
    totals: dict[str, list[Decimal]] = defaultdict(list)
    for raw in sroie.read_text(encoding="utf-8").splitlines():
        entities = json.loads(raw).get("entities", {})
        name, total = entities.get("company"), entities.get("total")
        if name and total and re.fullmatch(r"\d+(\.\d+)?", total.replace(",", "")):
            totals[" ".join(name.split())].append(Decimal(total.replace(",", "")))
    rng = random.Random(f"{seed}:vendors")
    rows = []
    for name in sorted(totals):
        if _vendor_bucket(name) >= 6:
            continue
        top = max(totals[name])
        tiers = [Decimal(t) for t in (50, 100, 200, 500, 1000, 2000, 5000, 20000)]
        fit = next((t for t in tiers if t >= top * Decimal("1.5")), tiers[-1])
        if rng.random() < 0.1:  # set too low: its larger receipts need approval
            fit = (top * Decimal("0.7")).quantize(Decimal(1), ROUND_DOWN)
        currencies = "MYR;SGD" if rng.random() < 0.1 else "MYR"
        rows.append({"name": name, "allowed_currencies": currencies, "approval_threshold": f"{fit:.2f}"})
    return rows


def _vendor_bucket(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"vendor|{name}".encode()).digest()[:8], "big") % 10
