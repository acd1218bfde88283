"""Score given models on a labelled file, never training, and compare them side by side.

`evaluate_model` runs one loaded model over the documents (gold hidden from it) and
reports what `feedback.evaluation.evaluate` reports (per-field exact match and F1,
document accuracy, ECE, straight-through at the target error) plus latency per document
(p50/p95) and, for LLMs, tokens and cost from the usage each response carried.
`compare_loaded` scores every ref and sets each one after the first against the first
(the baseline) with paired-bootstrap intervals (`feedback.paired`), so "the fine-tuned
model is better than its base" is a measured statement, or a measured "not shown".

Loading a model from a ref is the caller's (`ModelOpener`): the composition root knows
the registry and builds LLM clients (`autoclerk.model_eval.compare_models`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

import numpy as np
from pydantic import BaseModel

from agents.ports import Extractor
from feedback.errors import EvaluationError
from feedback.evaluation import EvalReport, evaluate
from feedback.paired import DEFAULT_RESAMPLES, Difference, Outcomes, accuracy_difference, draws, f1_difference
from schemas.document import LabelledDocument
from schemas.fields import Extraction
from schemas.values import comparison_key

Source = Literal["local", "llm"]
PAIRED_METHOD = "paired bootstrap over documents, 95% percentile interval"


@dataclass(frozen=True)
class Candidate:
    """A model loaded for scoring: what a `ModelOpener` yields."""

    ref: str
    version: str
    source: Source
    extractor: Extractor


ModelOpener = Callable[[str], AbstractAsyncContextManager[Candidate]]
"""`async with open_model(ref) as candidate:` loads the model `ref` names, or raises a
`agents.errors.ModelRefError` (`UnknownModelRef`, `ModelUnloadable`)."""


class ModelEvaluation(BaseModel):
    ref: str
    version: str
    source: Source
    documents: int
    failures: int  # extractions with `failure` set (unreachable LLM, refusal, bad output)
    reports: list[EvalReport]  # one per document kind
    latency_ms_p50: float
    latency_ms_p95: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None  # None: no usage reported, or a model the price table lacks
    cost_usd_per_document: float | None = None


class FieldComparison(BaseModel):
    field: str
    exact_match: Difference
    f1: Difference


class KindComparison(BaseModel):
    kind: str
    documents: int
    document_accuracy: Difference
    fields: list[FieldComparison]


class PairedComparison(BaseModel):
    baseline: str
    candidate: str
    method: str = PAIRED_METHOD
    resamples: int
    seed: int
    kinds: list[KindComparison]


class ComparisonReport(BaseModel):
    dataset: str
    documents: int
    target_error: float
    models: list[ModelEvaluation]
    comparisons: list[PairedComparison]


@dataclass(frozen=True)
class ScoredModel:
    evaluation: ModelEvaluation
    predictions: dict[str, Extraction]


async def _timed_predictions(
    extractor: Extractor, documents: Sequence[LabelledDocument], *, concurrency: int
) -> tuple[dict[str, Extraction], list[float]]:
    slots = asyncio.Semaphore(concurrency)

    async def one(doc: LabelledDocument) -> tuple[str, Extraction, float]:
        async with slots:
            started = time.perf_counter()
            extraction = await extractor.extract(doc.model_copy(update={"gold": {}}))
            return doc.document_id, extraction, (time.perf_counter() - started) * 1000

    done = await asyncio.gather(*(one(d) for d in documents))
    return {d: e for d, e, _ in done}, [ms for _, _, ms in done]


def _note_sum(predictions: dict[str, Extraction], key: str) -> Decimal | None:
    values = [p.notes.get(key) for p in predictions.values()]
    if not any(v is not None for v in values):
        return None
    try:
        return sum((Decimal(v) for v in values if v is not None), Decimal(0))
    except InvalidOperation as exc:
        raise EvaluationError(f"unreadable {key} in an extraction's notes: {exc}") from exc


async def evaluate_model(
    *,
    candidate: Candidate,
    documents: Sequence[LabelledDocument],
    target_error: float = 0.01,
    fields: Sequence[str] | None = None,
    concurrency: int = 4,
) -> ScoredModel:
    """Score one loaded model on every document (each kind reported apart)."""
    if not documents:
        raise EvaluationError("no documents to score")
    predictions, latencies = await _timed_predictions(candidate.extractor, documents, concurrency=concurrency)
    reports = [
        evaluate(predictions=predictions, gold=documents, kind=kind, target_error=target_error, fields=fields)
        for kind in sorted({d.kind for d in documents})
    ]
    p50, p95 = np.percentile(latencies, [50, 95])
    protocol = f"{candidate.ref} ({candidate.version}), no training"
    cost, prompt, completion = (
        _note_sum(predictions, k) for k in ("cost_usd", "prompt_tokens", "completion_tokens")
    )
    evaluation = ModelEvaluation(
        ref=candidate.ref,
        version=candidate.version,
        source=candidate.source,
        documents=len(documents),
        failures=sum(p.failure is not None for p in predictions.values()),
        reports=[r.model_copy(update={"protocol": protocol}) for r in reports],
        latency_ms_p50=float(p50),
        latency_ms_p95=float(p95),
        prompt_tokens=int(prompt) if prompt is not None else None,
        completion_tokens=int(completion) if completion is not None else None,
        cost_usd=float(cost) if cost is not None else None,
        cost_usd_per_document=float(cost) / len(documents) if cost is not None else None,
    )
    return ScoredModel(evaluation=evaluation, predictions=predictions)


def _outcomes(preds: dict[str, Extraction], docs: Sequence[LabelledDocument], field: str) -> Outcomes:
    p = [comparison_key(preds[d.document_id].value(field)) for d in docs]
    g = [comparison_key(d.gold.get(field)) for d in docs]
    return Outcomes(
        hit=np.array([a == b for a, b in zip(p, g, strict=True)]),
        tp=np.array([a is not None and a == b for a, b in zip(p, g, strict=True)], dtype=float),
        predicted=np.array([a is not None for a in p], dtype=float),
    )


def paired_comparison(
    *,
    baseline: ScoredModel,
    candidate: ScoredModel,
    documents: Sequence[LabelledDocument],
    fields: Sequence[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PairedComparison:
    """Candidate - baseline per kind and field, on the same documents and the same draws."""
    kinds = []
    for kind in sorted({d.kind for d in documents}):
        docs = [d for d in documents if d.kind == kind]
        names = list(fields) if fields is not None else sorted({n for d in docs for n in d.gold})
        index = draws(len(docs), resamples=resamples, seed=seed)
        support = np.array(
            [[comparison_key(d.gold.get(n)) is not None for d in docs] for n in names], dtype=float
        )
        doc_hits = []
        rows = []
        for model in (baseline, candidate):
            per_field = {n: _outcomes(model.predictions, docs, n) for n in names}
            ok = np.array([model.predictions[d.document_id].failure is None for d in docs])
            for o in per_field.values():
                ok &= o.hit
            doc_hits.append(ok)
            rows.append(per_field)
        field_rows = [
            FieldComparison(
                field=n,
                exact_match=accuracy_difference(
                    metric="exact_match", baseline=rows[0][n].hit, candidate=rows[1][n].hit, index=index
                ),
                f1=f1_difference(baseline=rows[0][n], candidate=rows[1][n], support=support[i], index=index),
            )
            for i, n in enumerate(names)
        ]
        kinds.append(
            KindComparison(
                kind=kind,
                documents=len(docs),
                document_accuracy=accuracy_difference(
                    metric="document_accuracy", baseline=doc_hits[0], candidate=doc_hits[1], index=index
                ),
                fields=field_rows,
            )
        )
    return PairedComparison(
        baseline=baseline.evaluation.ref,
        candidate=candidate.evaluation.ref,
        resamples=resamples,
        seed=seed,
        kinds=kinds,
    )


async def compare_loaded(
    *,
    documents: Sequence[LabelledDocument],
    refs: Sequence[str],
    open_model: ModelOpener,
    dataset: str,
    target_error: float = 0.01,
    fields: Sequence[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> ComparisonReport:
    """Every ref scored on `documents`; each after the first compared with the first.
    Every ref is opened before any is scored, so a bad ref fails fast, not after an hour
    of LLM calls."""
    if not refs:
        raise EvaluationError("no model to score: give at least one ref")
    if len(set(refs)) != len(refs):
        raise EvaluationError(f"a ref is given twice: {list(refs)}")
    scored: list[ScoredModel] = []
    async with AsyncExitStack() as stack:
        candidates = [await stack.enter_async_context(open_model(ref)) for ref in refs]
        for c in candidates:
            scored.append(
                await evaluate_model(
                    candidate=c, documents=documents, target_error=target_error, fields=fields
                )
            )
    comparisons = [
        paired_comparison(
            baseline=scored[0],
            candidate=s,
            documents=documents,
            fields=fields,
            resamples=resamples,
            seed=seed,
        )
        for s in scored[1:]
    ]
    return ComparisonReport(
        dataset=dataset,
        documents=len(documents),
        target_error=target_error,
        models=[s.evaluation for s in scored],
        comparisons=comparisons,
    )
