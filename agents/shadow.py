"""Shadow extraction: a candidate extractor reads a share of live documents beside the
active one, and its reading is stored, never acted on.

`ShadowExtractor` is an `Extractor` that wraps the active one and returns exactly the
active model's `Extraction`: the graph, the rules and the route see nothing else, so
decisions are the same with or without a shadow. For a document chosen by a hash of
its id (`shadow_share`; the same choice on every delivery and every worker) the
candidate runs concurrently, bounded by `timeout_s`; its outcome (reading, or the
reason it has none), both models' straight-through verdicts under the routing
thresholds in force, cost and latency go to the `ShadowStore`.

Failures of the shadow never reach the document: an exception, a timeout, a store
that cannot write are logged and counted (`ShadowCounts`) and the active reading is
returned as if there were no shadow. A document already shadowed by this version is
not run again (a redelivery pays nothing). An LLM shadow stops once the cost stored
for its version reaches `budget_usd`; the check reads the store before each document
(every worker shares it), so concurrent documents may overshoot by what is in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

from agents.ports import Extractor
from agents.routing import MANDATORY, RoutingPolicy
from schemas.document import Document
from schemas.fields import Extraction
from schemas.shadow import ShadowPrediction

log = logging.getLogger(__name__)


class ShadowStore(Protocol):
    async def seen(self, *, document_id: str, model_version: str) -> bool: ...

    async def spent_usd(self, *, model_version: str) -> float: ...

    async def record(self, prediction: ShadowPrediction) -> None:
        """Insert; a row for the same (document, version) already there is kept."""
        ...


@dataclass
class ShadowCounts:
    """What this process's shadow did; failures are also in the log."""

    shadowed: int = 0
    failed: int = 0  # the shadow raised, timed out or returned a failed extraction
    store_errors: int = 0
    skipped_budget: int = 0
    skipped_seen: int = 0


def chosen(document_id: str, *, share: float) -> bool:
    """Stable choice by id hash: a redelivery and every worker choose alike."""
    bucket = int(hashlib.sha256(f"shadow:{document_id}".encode()).hexdigest()[:8], 16) % 10_000
    return bucket < round(share * 10_000)


def clears_thresholds(policy: RoutingPolicy, extraction: Extraction) -> bool:
    """Extraction's share of straight-through: no failure, and every mandatory field read
    at or above its routing threshold. Triage risk and rules may still send the
    document to a person; this is what the extractor alone would have allowed."""
    if extraction.failure is not None:
        return False
    return all(
        extraction.value(name) is not None
        and extraction.confidence(name) >= policy.threshold(extraction.kind, name)
        for name in MANDATORY[extraction.kind]
    )


def _cost(extraction: Extraction | None) -> float | None:
    raw = extraction.notes.get("cost_usd") if extraction is not None else None
    try:
        return float(Decimal(raw)) if raw is not None else None
    except InvalidOperation:
        return None


class ShadowExtractor:
    """Implements `agents.ports.Extractor`: the active reading, with a shadow beside it."""

    def __init__(
        self,
        *,
        active: Extractor,
        shadow: Extractor,
        shadow_ref: str,
        store: ShadowStore,
        policy: RoutingPolicy,
        share: float,
        timeout_s: float,
        budget_usd: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._active = active
        self._shadow = shadow
        self._ref = shadow_ref
        self._store = store
        self._policy = policy
        self._share = share
        self._timeout_s = timeout_s
        self._budget = budget_usd
        self._clock = clock
        self._exhausted = False
        self.counts = ShadowCounts()

    @property
    def version(self) -> str:
        return self._active.version

    @property
    def active(self) -> Extractor:
        return self._active

    async def aclose(self) -> None:
        """Close both models' clients (an LLM's HTTP pool); local models have none."""
        for model in (self._shadow, self._active):
            close = getattr(model, "aclose", None)
            if close is not None:
                await close()

    async def extract(self, document: Document) -> Extraction:
        if not chosen(document.document_id, share=self._share) or not await self._worth_running(document):
            return await self._active.extract(document)
        shadow = asyncio.create_task(self._run_shadow(document))
        try:
            reading = await self._active.extract(document)
        except BaseException:
            shadow.cancel()
            raise
        outcome, failure, latency_ms = await shadow
        await self._record(document, reading, outcome, failure, latency_ms)
        return reading

    async def _worth_running(self, document: Document) -> bool:
        try:
            if await self._store.seen(document_id=document.document_id, model_version=self._shadow.version):
                self.counts.skipped_seen += 1
                return False
            if self._budget is not None and not self._exhausted:
                spent = await self._store.spent_usd(model_version=self._shadow.version)
                if spent >= self._budget:
                    self._exhausted = True
                    log.warning("shadow %s stopped: spent $%.4f of $%.4f", self._ref, spent, self._budget)
        except Exception:
            self.counts.store_errors += 1
            log.exception(
                "shadow %s: store unavailable, document %s not shadowed", self._ref, document.document_id
            )
            return False
        if self._exhausted:
            self.counts.skipped_budget += 1
            return False
        return True

    async def _run_shadow(self, document: Document) -> tuple[Extraction | None, str | None, float]:
        started = self._clock()
        try:
            async with asyncio.timeout(self._timeout_s):
                reading = await self._shadow.extract(document)
        except TimeoutError:
            return None, f"shadow_timeout: no answer within {self._timeout_s:g}s", self._ms(started)
        except Exception as exc:  # the shadow is never the document's problem
            return None, f"shadow_error: {type(exc).__name__}: {exc}"[:2000], self._ms(started)
        return reading, reading.failure, self._ms(started)

    def _ms(self, started: float) -> float:
        return (self._clock() - started) * 1000

    async def _record(
        self,
        document: Document,
        reading: Extraction,
        shadow: Extraction | None,
        failure: str | None,
        latency_ms: float,
    ) -> None:
        self.counts.shadowed += 1
        if failure is not None:
            self.counts.failed += 1
            log.warning("shadow %s failed on %s: %s", self._ref, document.document_id, failure[:300])
        prediction = ShadowPrediction(
            document_id=document.document_id,
            shadow_ref=self._ref,
            model_version=shadow.model_version if shadow is not None else self._shadow.version,
            active_version=reading.model_version,
            kind=document.kind,
            active=reading,
            shadow=shadow,
            failure=failure,
            active_straight_through=clears_thresholds(self._policy, reading),
            shadow_straight_through=shadow is not None and clears_thresholds(self._policy, shadow),
            cost_usd=_cost(shadow),
            latency_ms=latency_ms,
        )
        try:
            await self._store.record(prediction)
        except Exception:
            self.counts.store_errors += 1
            log.exception("shadow %s: could not store the reading of %s", self._ref, document.document_id)
