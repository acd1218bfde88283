"""The models a worker serves, as the registry says now, and switching them live.

`load_served` builds the triage classifier and the extractor from the registry's active
versions (artifacts fetched into this machine's cache first). `ModelSwitch.check`, run
every `models.watch_interval_s` by the worker (`autoclerk.worker.RegistryWatch`), reads
the registry's generation (one indexed `max(id)`), and only when it moved and the active
versions differ loads the new ones and hands them to `apply`. Documents already running
keep the models they started with (the service snapshots its context per document); the
old triage batcher is closed after `grace_s`, long after those finished. A version that
fails to load is logged and the worker keeps serving what it has: promotion refuses
unservable versions first, so this is a broken artifact store, not a normal path.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from agents.errors import UnknownModelRef
from agents.extract.llm import LlmExtractor
from agents.ports import Extractor
from agents.registry import Registry
from agents.shadow import ShadowExtractor
from agents.triage.runtime import OnnxTriageClassifier
from autoclerk.adapters import (
    ModelsMissing,
    build_llm_extractor,
    layered_cache,
    load_triage,
    routing_policy,
)
from autoclerk.shadow import with_shadow
from infra.db.transactions import Transactions
from infra.settings import Settings
from schemas.registry import ModelVersion

log = logging.getLogger("autoclerk.models")

EXTRACTOR, TRIAGE, CLAIMS_RISK = "extractor", "triage", "claims_risk"


@dataclass
class ServedModels:
    triage: OnnxTriageClassifier
    extractor: Extractor
    versions: dict[str, ModelVersion]

    @property
    def refs(self) -> dict[str, str]:
        return {name: v.ref for name, v in sorted(self.versions.items())}

    async def start(self) -> None:
        await self.triage.start()

    async def aclose(self) -> None:
        await self.triage.close()
        if isinstance(self.extractor, LlmExtractor | ShadowExtractor):
            await self.extractor.aclose()


def active_versions(registry: Registry) -> dict[str, ModelVersion]:
    """Extractor and triage (required), claims_risk (only where an operator trained it)."""
    found = {name: registry.active(name) for name in (EXTRACTOR, TRIAGE, CLAIMS_RISK)}
    missing = [n for n in (EXTRACTOR, TRIAGE) if found[n] is None]
    if missing:
        raise ModelsMissing(f"no active {', '.join(missing)} in the model registry: train it first")
    return {n: v for n, v in found.items() if v is not None}


def build_extractor_version(
    settings: Settings,
    *,
    registry: Registry,
    version: ModelVersion,
    engine: AsyncEngine,
    transactions: Transactions | None = None,
) -> Extractor:
    if version.flavour == "llm":
        llm = settings.llm.model_copy(update={"model": version.params["model"]})
        return build_llm_extractor(llm, cache=layered_cache(engine=engine, transactions=transactions))
    # imported here: its rankers are scikit-learn estimators, whose import a worker
    # extracting with an LLM need not pay
    from agents.extract.local import LocalExtractor

    return LocalExtractor.load(registry.local_artifacts(version))


def load_served(
    settings: Settings,
    *,
    registry: Registry,
    versions: dict[str, ModelVersion],
    engine: AsyncEngine,
    transactions: Transactions | None = None,
) -> ServedModels:
    """Blocking (archives unpacked, models loaded): call it in a thread on a live loop."""
    risk = versions.get(CLAIMS_RISK)
    triage = load_triage(
        settings,
        registry.local_artifacts(versions[TRIAGE]),
        claims_risk=registry.local_artifacts(risk) if risk is not None else None,
    )
    extractor = with_shadow(
        settings,
        active=build_extractor_version(
            settings,
            registry=registry,
            version=versions[EXTRACTOR],
            engine=engine,
            transactions=transactions,
        ),
        engine=engine,
        policy=routing_policy(settings),
        registry=registry,
    )
    return ServedModels(triage=triage, extractor=extractor, versions=versions)


class ModelSwitch:
    def __init__(
        self,
        *,
        settings: Settings,
        registry: Registry,
        engine: AsyncEngine,
        current: ServedModels,
        apply: Any,
        grace_s: float = 30.0,
        transactions: Transactions | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._engine = engine
        self._tx = transactions
        self.current = current
        self._apply = apply
        self._grace_s = grace_s
        self._generation = -1
        self._retiring: dict[asyncio.Task[None], ServedModels] = {}

    async def check(self) -> ServedModels | None:
        """Switch when the active versions moved; returns the new models, else None."""
        generation = await asyncio.to_thread(self._registry.generation)
        if generation == self._generation:
            return None
        try:
            versions = await asyncio.to_thread(active_versions, self._registry)
        except (ModelsMissing, UnknownModelRef) as exc:
            log.error("model registry: %s; keeping %s", exc, self.current.refs)
            return None
        self._generation = generation
        if {n: v.ref for n, v in versions.items()} == self.current.refs:
            return None
        try:
            new = await asyncio.to_thread(
                load_served,
                self._settings,
                registry=self._registry,
                versions=versions,
                engine=self._engine,
                transactions=self._tx,
            )
            await new.start()
        except Exception:
            log.exception(
                "cannot load %s; keeping %s", {n: v.ref for n, v in versions.items()}, self.current.refs
            )
            return None
        old, self.current = self.current, new
        self._apply(new)
        log.info("models switched: %s -> %s", old.refs, new.refs)
        task = asyncio.create_task(self._retire(old))
        self._retiring[task] = old
        task.add_done_callback(lambda t: self._retiring.pop(t, None))
        return new

    async def _retire(self, old: ServedModels) -> None:
        await asyncio.sleep(self._grace_s)
        await old.aclose()

    async def aclose(self) -> None:
        for task, old in list(self._retiring.items()):
            task.cancel()
            await old.aclose()
        await self.current.aclose()
