"""The shadow's wiring: a candidate loaded beside the active extractor
(`agents.shadow.ShadowExtractor`), its readings stored in `shadow_predictions`.

The candidate is `models.shadow_ref` (a registry ref or an LLM spec,
`autoclerk.model_refs`) or, when that is unset, the extractor version the registry has
in status `shadow` (alias `challenger`; `autoclerk models status extractor/N shadow`).
A configured shadow that cannot be loaded stops the worker at start with the reason, as
an active model that cannot be loaded does: a shadow silently missing would read as one
that never disagrees. Workers reload it with the active models when the registry moves.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from agents.errors import UnknownModelRef
from agents.ports import Extractor
from agents.registry import Registry
from agents.routing import RoutingPolicy
from agents.shadow import ShadowExtractor
from autoclerk.model_refs import load_resolved, resolve_model
from infra.settings import Settings
from infra.shadow_store import SqlShadowStore

CHALLENGER = "extractor@challenger"


def shadow_ref(settings: Settings, registry: Registry) -> str | None:
    """The configured shadow, else the registry's extractor in status `shadow`, else None."""
    if settings.models.shadow_ref:
        return settings.models.shadow_ref
    try:
        version = registry.get(CHALLENGER)
    except UnknownModelRef:
        return None
    return version.ref if version.status == "shadow" else None


def with_shadow(
    settings: Settings, *, active: Extractor, engine: AsyncEngine, policy: RoutingPolicy, registry: Registry
) -> Extractor:
    """`active` itself when there is no shadow (or its share is 0), else the active
    extractor with the candidate beside it; close it with `aclose()`. Blocking (an
    artifact may be fetched): call it where models are loaded, in a thread."""
    ref = shadow_ref(settings, registry)
    if ref is None or settings.models.shadow_share <= 0:
        return active
    shadow = load_resolved(settings, resolve_model(settings, ref, registry=registry))
    return ShadowExtractor(
        active=active,
        shadow=shadow,
        shadow_ref=ref,
        store=SqlShadowStore(engine=engine),
        policy=policy,
        share=settings.models.shadow_share,
        timeout_s=settings.models.shadow_timeout_s,
        budget_usd=settings.models.shadow_budget_usd,
    )
