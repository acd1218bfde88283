"""Which shadow a worker loads: `models.shadow_ref`, else the registry's extractor in
status `shadow` (alias challenger), else none."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from agents.routing import RoutingPolicy
from agents.shadow import ShadowExtractor
from autoclerk.registry import registry_session
from autoclerk.shadow import shadow_ref, with_shadow
from infra.db.engine import make_async_engine
from infra.settings import Settings
from tests.fakes import FakeExtractor


async def test_the_registry_shadow_is_loaded_unless_one_is_configured(
    trained_models: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained_models, models)
    live = next(p for p in (models / "extractor").iterdir() if (p / "metadata.json").is_file())
    shutil.copytree(live, models / "extractor" / "candidate-folder")
    url = f"sqlite:///{tmp_path / 'a.db'}"
    settings = Settings(db={"url": url}, models={"dir": models, "shadow_share": 0.5})
    engine: AsyncEngine = make_async_engine(url)
    active = FakeExtractor()
    try:
        with registry_session(settings) as registry:
            assert shadow_ref(settings, registry) is None
            assert (
                with_shadow(settings, active=active, engine=engine, policy=RoutingPolicy(), registry=registry)
                is active
            )
            candidate = next(
                v
                for v in registry.versions("extractor")
                if v.lineage.get("legacy_folder") == "candidate-folder"
            )
            registry.set_status(candidate.ref, "shadow")
            assert shadow_ref(settings, registry) == candidate.ref
            wrapped = with_shadow(
                settings, active=active, engine=engine, policy=RoutingPolicy(), registry=registry
            )
            assert isinstance(wrapped, ShadowExtractor) and wrapped.active is active
            assert wrapped.version == active.version  # the workflow sees the active model's version
            configured = settings.model_copy(
                update={"models": settings.models.model_copy(update={"shadow_ref": "llm:gpt-4o-mini"})}
            )
            assert shadow_ref(configured, registry) == "llm:gpt-4o-mini"
            zero = settings.model_copy(
                update={"models": settings.models.model_copy(update={"shadow_share": 0.0})}
            )
            assert (
                with_shadow(zero, active=active, engine=engine, policy=RoutingPolicy(), registry=registry)
                is active
            )
        await wrapped.aclose()
    finally:
        await engine.dispose()
