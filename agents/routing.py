"""Routing: combine extraction confidence, triage and rule outcomes into a route.

Thresholds are per (kind, field) over the catalogue's mandatory fields. Until
`feedback` fits them on held-out data they come from settings; a fitted thresholds
file replaces them without code changes. The policy is the one place for limits: it
also carries the limits the decision graphs read (`rule_limits`), and the review page
flags low confidence with its thresholds.
Text inside a document never reaches this function except as field values, so it
cannot instruct routing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from schemas.catalogue import MANDATORY
from schemas.fields import Extraction
from schemas.limits import RuleLimits
from schemas.verdicts import RouteDecision, RuleReason, RuleResult, TriageResult

__all__ = ["MANDATORY", "RoutingPolicy", "review_due", "route"]


@dataclass(frozen=True)
class RoutingPolicy:
    default_threshold: float = 0.9
    max_risk: float = 0.5
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    version: str = "settings"
    rule_limits: RuleLimits = field(default_factory=RuleLimits)

    @classmethod
    def load(
        cls,
        *,
        path: Path,
        default_threshold: float,
        max_risk: float,
        rule_limits: RuleLimits | None = None,
    ) -> RoutingPolicy:
        """Fitted thresholds if the file exists, else the configured defaults."""
        limits = rule_limits or RuleLimits()
        if not path.exists():
            return cls(default_threshold=default_threshold, max_risk=max_risk, rule_limits=limits)
        data = json.loads(path.read_text())
        return cls(
            default_threshold=float(data.get("default_threshold", default_threshold)),
            max_risk=float(data.get("max_risk", max_risk)),
            thresholds={k: {f: float(t) for f, t in v.items()} for k, v in data["thresholds"].items()},
            version=str(data.get("version", path.stem)),
            rule_limits=limits,
        )

    def threshold(self, kind: str, field_name: str) -> float:
        return self.thresholds.get(kind, {}).get(field_name, self.default_threshold)


def _low_confidence(policy: RoutingPolicy, extraction: Extraction) -> list[RuleReason]:
    reasons = []
    for name in MANDATORY[extraction.kind]:
        conf = extraction.confidence(name)
        limit = policy.threshold(extraction.kind, name)
        if extraction.value(name) is not None and conf < limit:
            reasons.append(
                RuleReason(
                    code="low_confidence",
                    message=f"{name}: confidence {conf:.2f} below {limit:.2f}",
                    rule="routing",
                )
            )
    return reasons


def route(
    *,
    policy: RoutingPolicy,
    extraction: Extraction,
    triage: TriageResult,
    rules: RuleResult,
    amount: float | None,
    unverified: Sequence[RuleReason] = (),
) -> RouteDecision:
    """approve only when every signal agrees; a reject needs trustworthy fields.
    `unverified`: reasons the rule set itself is in doubt (agents/selectors.py); any
    one sends the document to review, whatever the rules said."""
    reasons: list[RuleReason] = list(unverified)
    if triage.failure:
        reasons.append(RuleReason(code="triage_failed", message=triage.failure, rule="routing"))
    if extraction.failure:
        reasons.append(RuleReason(code="extraction_failed", message=extraction.failure, rule="routing"))
    low = _low_confidence(policy, extraction)
    risky = triage.risk > policy.max_risk and not triage.failure
    if risky:
        reasons.append(
            RuleReason(
                code="high_risk",
                message=f"triage risk {triage.risk:.2f} above {policy.max_risk:.2f}",
                rule="routing",
            )
        )
    rule_reasons = [r for r in rules.reasons if r.severity != "info"]
    priority = _priority(risk=triage.risk, amount=amount, n_reasons=len(reasons) + len(rule_reasons))
    if reasons:
        return RouteDecision(outcome="review", reasons=reasons + low + rule_reasons, priority=priority)
    if rules.outcome == "reject":
        # A reject built on fields we are unsure of is a conflict: a human decides.
        outcome = "review" if low else "reject"
        return RouteDecision(outcome=outcome, reasons=rule_reasons + low, priority=priority)
    if rules.outcome == "review" or low:
        return RouteDecision(outcome="review", reasons=rule_reasons + low, priority=priority)
    return RouteDecision(outcome="approve", reasons=rules.reasons, priority=priority)


def _priority(*, risk: float, amount: float | None, n_reasons: int) -> int:
    """0..100: risk dominates, large amounts and many reasons push up."""
    amount_part = 0.0 if amount is None else min(1.0, max(0.0, amount) / 10_000.0)
    score = 55 * risk + 30 * amount_part + 5 * min(n_reasons, 3)
    return int(max(0, min(100, round(score))))


def review_due(*, start: datetime, priority: int, sla_hours: float) -> datetime:
    """When a review task is due: higher priority shortens the SLA, priority 100 to a tenth."""
    return start + timedelta(hours=sla_hours * (1.0 - 0.9 * priority / 100))
