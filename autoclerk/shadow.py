"""The shadow's wiring: the configured candidate loaded beside the active extractor
(`agents.shadow.ShadowExtractor`), its readings stored in `shadow_predictions`, and the
report on them (`autoclerk models shadow-report`).

The candidate is `models.shadow_ref` (a version or an LLM spec, `autoclerk.model_refs`).
A shadow that cannot be loaded stops the worker at start with the reason, as an active
model that cannot be loaded does: a shadow silently missing would read as a shadow
that never disagrees.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from agents.ports import Extractor
from agents.routing import RoutingPolicy
from agents.shadow import ShadowExtractor
from autoclerk.model_refs import llm_extractor, load_local, resolve_model
from infra.settings import Settings
from infra.shadow_store import SqlShadowStore


def with_shadow(
    settings: Settings, *, active: Extractor, engine: AsyncEngine, policy: RoutingPolicy
) -> Extractor:
    """`active` itself when no shadow is configured (or its share is 0), else the
    active extractor with the candidate beside it; close it with `aclose()`."""
    m = settings.models
    if not m.shadow_ref or m.shadow_share <= 0:
        return active
    resolved = resolve_model(settings, m.shadow_ref)
    shadow = load_local(resolved) if resolved.source == "local" else llm_extractor(settings, resolved)
    return ShadowExtractor(
        active=active,
        shadow=shadow,
        shadow_ref=m.shadow_ref,
        store=SqlShadowStore(engine=engine),
        policy=policy,
        share=m.shadow_share,
        timeout_s=m.shadow_timeout_s,
        budget_usd=m.shadow_budget_usd,
    )
