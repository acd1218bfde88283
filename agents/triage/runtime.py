"""`TriageClassifier` over onnxruntime, micro-batching concurrent calls.

Concurrent `classify` calls queue up; one batcher task takes up to `max_batch`
documents or whatever arrived within `max_wait_ms` of the first, runs one session
call in a worker thread, and resolves each caller's future. With `max_wait_ms=0`
batching is opportunistic: documents that arrive while a batch runs form the next. A missing or broken
model never raises into the worker: every answer then carries `failure` and risk
1.0, which routes the document to a person. Auto claims that arrive with the claims
table's columns in their metadata are scored by the tabular fraud model instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from agents.telemetry import observe_triage_batch
from agents.triage.claims_risk import ClaimsRiskScorer
from agents.triage.errors import InferenceFailed, ModelUnavailable
from agents.triage.features import FEATURE_VERSION, Featurizer
from agents.triage.providers import choose_providers
from schemas.document import Document
from schemas.verdicts import TriageResult

log = logging.getLogger(__name__)
UNAVAILABLE = "unavailable"
FRAUD = "fraud"  # probabilities key of the claims risk model's answer, beside the kinds
_Item = tuple[Document, "asyncio.Future[TriageResult]"]
Features = tuple[NDArray[np.int64], NDArray[np.float32]]
_INLINE_BATCH = 4


def _session(path: Path, providers: list[str]) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # ORT's own warnings about provider fallbacks are noise here
    # The models are a few sparse dot products per document: ORT's default pool (one
    # spinning thread per core) burnt more CPU waiting than computing, and took it from
    # the rules engine on the same loop (bench.triage_rules: 2.7 -> 1.8 ms CPU per document at 200 docs/s).
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def read_metadata(path: Path) -> dict[str, Any]:
    """The artifact's metadata, checked against this code without building a session:
    the first thing loading does, and the cheap check the model registry
    (`agents.model_store`) applies before a worker starts."""
    try:
        meta: dict[str, Any] = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"cannot read {path / 'metadata.json'}: {exc}") from exc
    if meta.get("feature_version") != FEATURE_VERSION:
        raise ModelUnavailable(
            f"artifact features {meta.get('feature_version')!r} != runtime {FEATURE_VERSION!r}"
        )
    return meta


class _Model:
    """The loaded artifact: sessions, labels, and which kinds have a learnt risk."""

    def __init__(self, path: Path, *, prefer_gpu: bool) -> None:
        meta = read_metadata(path)
        providers = choose_providers(prefer_gpu=prefer_gpu)
        try:
            self.kind = _session(path / meta["model_file"], providers)
            risk = meta.get("risk") or {}
            self.risk = _session(path / risk["file"], providers) if risk.get("file") else None
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelUnavailable(f"cannot build ONNX session from {path}: {exc}") from exc
        self.version: str = meta["version"]
        self.labels: list[str] = meta["labels"]
        self.risk_kinds: frozenset[str] = frozenset(risk.get("kinds", ()))
        self.providers: list[str] = self.kind.get_providers()
        self.metadata: dict[str, Any] = meta

    @staticmethod
    def _probabilities(session: ort.InferenceSession, x: Features) -> NDArray[Any]:
        indices, values = x
        outputs = session.run(None, {"indices": indices, "values": values})
        return next(o for o in outputs if getattr(o, "ndim", 0) == 2)

    def predict(self, x: Features) -> list[TriageResult]:
        probs = self._probabilities(self.kind, x)
        risk = self._probabilities(self.risk, x)[:, 1] if self.risk is not None else None
        results = []
        for i, row in enumerate(probs):
            best = int(np.argmax(row))
            kind = self.labels[best]
            learnt = risk is not None and kind in self.risk_kinds
            score = float(risk[i]) if learnt and risk is not None else 1.0 - float(row[best])
            results.append(
                TriageResult(
                    model_version=self.version,
                    predicted_kind=kind,
                    risk=min(1.0, max(0.0, score)),
                    probabilities={lab: float(p) for lab, p in zip(self.labels, row, strict=True)},
                )
            )
        return results


class OnnxTriageClassifier:
    """Implements `agents.ports.TriageClassifier`. Build with `load`; use as an async
    context manager (or `start`/`close`) so the batcher task has an owner."""

    def __init__(
        self,
        *,
        model: _Model | None,
        failure: str | None,
        max_batch: int,
        max_wait_ms: float,
        claims_risk: ClaimsRiskScorer | None = None,
    ) -> None:
        self._model = model
        self._failure = failure
        self._claims_risk = claims_risk
        self._max_batch = max(1, max_batch)
        self._max_wait = max(0.0, max_wait_ms) / 1000.0
        self._featurizer = Featurizer()
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        prefer_gpu: bool = True,
        claims_risk: Path | None = None,
    ) -> OnnxTriageClassifier:
        """Never raises: an unusable artifact gives a classifier that sends all to review.

        `claims_risk` is a `train_claims_risk` artifact; without it (or when it cannot
        load) auto claims keep the text model's risk."""
        try:
            model: _Model | None = _Model(path, prefer_gpu=prefer_gpu)
            failure = None
        except ModelUnavailable as exc:
            log.error("triage model unavailable, every document goes to review: %s", exc)
            model, failure = None, str(exc)
        scorer = None
        if claims_risk is not None:
            try:
                scorer = ClaimsRiskScorer.load(claims_risk)
            except ModelUnavailable as exc:
                log.error("claims risk model unavailable, auto claims keep the text risk: %s", exc)
        return cls(
            model=model, failure=failure, max_batch=max_batch, max_wait_ms=max_wait_ms, claims_risk=scorer
        )

    @property
    def version(self) -> str:
        return self._model.version if self._model else UNAVAILABLE

    @property
    def providers(self) -> list[str]:
        return self._model.providers if self._model else []

    @property
    def failure(self) -> str | None:
        return self._failure

    def _fallback(self, reason: str) -> TriageResult:
        return TriageResult(model_version=self.version, predicted_kind="unknown", risk=1.0, failure=reason)

    def classify_many(self, documents: Sequence[Document]) -> list[TriageResult]:
        """One synchronous session call for a batch (the batcher's unit of work)."""
        if self._model is None:
            return [self._fallback(self._failure or "model unavailable") for _ in documents]
        try:
            x = self._featurizer.padded([d.text for d in documents])
            return self._tabular_risk(documents, self._model.predict(x))
        except Exception as exc:  # a bad batch must not kill the batcher
            err = InferenceFailed(f"{type(exc).__name__}: {exc}")
            log.warning("triage inference failed for %d documents: %s", len(documents), err)
            return [self._fallback(str(err)) for _ in documents]

    def _tabular_risk(self, documents: Sequence[Document], results: list[TriageResult]) -> list[TriageResult]:
        """Auto claims whose metadata carries the claims table's columns get the fraud
        model's probability as their risk; the result says which models answered."""
        scorer = self._claims_risk
        if scorer is None:
            return results
        chosen = [
            i
            for i, d in enumerate(documents)
            if d.kind == "claim" and d.claim_type == "auto" and scorer.accepts(d.metadata)
        ]
        if not chosen:
            return results
        fraud = scorer.score([documents[i].metadata for i in chosen])
        for i, p in zip(chosen, fraud, strict=True):
            r = results[i]
            results[i] = r.model_copy(
                update={
                    "model_version": f"{r.model_version}+{scorer.version}",
                    "risk": min(1.0, max(0.0, float(p))),
                    "probabilities": {**r.probabilities, FRAUD: float(p)},
                }
            )
        return results

    async def start(self) -> None:
        if self._task is not None:
            return
        if self._model is not None:  # warm-up: first run allocates arenas, compiles kernels
            warm = Document.from_text(document_id="warm-up", kind="invoice", text="total 1.00")
            await asyncio.to_thread(self.classify_many, [warm] * self._max_batch)
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="triage-batcher")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        queue, self._queue = self._queue, None
        while queue is not None and not queue.empty():
            _, future = queue.get_nowait()
            if not future.done():
                future.set_result(self._fallback("triage classifier closed"))

    async def __aenter__(self) -> OnnxTriageClassifier:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def classify(self, document: Document) -> TriageResult:
        if self._model is None:
            return self._fallback(self._failure or "model unavailable")
        if self._task is None:
            await self.start()
        assert self._queue is not None
        future: asyncio.Future[TriageResult] = asyncio.get_running_loop().create_future()
        await self._queue.put((document, future))
        return await future

    async def _collect(self, queue: asyncio.Queue[_Item]) -> list[_Item]:
        batch = [await queue.get()]
        deadline = asyncio.get_running_loop().time() + self._max_wait
        while len(batch) < self._max_batch:
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        batch: list[_Item] = []
        try:
            while True:
                batch = await self._collect(queue)
                live = [(doc, fut) for doc, fut in batch if not fut.cancelled()]
                if live:
                    docs = [doc for doc, _ in live]
                    observe_triage_batch(len(docs))
                    if len(docs) <= _INLINE_BATCH:
                        # A few documents score in well under a millisecond: handing them
                        # to a thread cost more latency (two wake-ups) than it freed.
                        results = self.classify_many(docs)
                    else:
                        results = await asyncio.to_thread(self.classify_many, docs)
                    for (_, future), result in zip(live, results, strict=True):
                        if not future.done():
                            future.set_result(result)
                batch = []
        finally:  # closing mid-batch: nobody may wait forever
            for _, future in batch:
                if not future.done():
                    future.set_result(self._fallback("triage classifier closed"))
