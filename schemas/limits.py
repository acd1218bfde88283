"""Limits the decision graphs read from their input, so no graph hard-codes its own.

The routing policy (`agents.routing.RoutingPolicy`, built from settings at the
composition root) carries these beside its own risk limit and confidence thresholds;
the root hands them to the rules evaluator, and `rules.context` puts them in every
engine input as `limits`. A graph's case table states the limits it was written for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RuleLimits:
    # common_quality: triage risk at or above this adds high_risk. Routing already sends
    # anything above the policy's `max_risk` to review; this names the worst cases.
    high_risk: float = 0.8
    # common_quality: a mandatory field read below this adds low_confidence, whatever
    # the fitted per-field thresholds say (they gate automation; this is a floor).
    confidence_floor: float = 0.5

    def as_input(self) -> dict[str, float]:
        return asdict(self)
