"""How a shadow did on live documents: agreement with the active model, the
straight-through rate it would have had, and accuracy where a reviewer gave the answer.

The reviewer is ground truth: a shadowed document that a person later reviewed becomes
a labelled document by the export's rule (`feedback.export.labelled_from_review`: the
fields the person vouched for, corrections applied), and both models' readings are
scored on those fields. The active model's accuracy on them is shown beside the
shadow's, on the same documents; it is flattered (a person confirming a field the
active model showed them counts as its being right), which is why agreement and the
straight-through rates are shown on every shadowed document as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from feedback.errors import ExportError
from feedback.export import ReviewedSource, labelled_from_review
from schemas.fields import Extraction, field_names
from schemas.shadow import ShadowPrediction
from schemas.values import comparison_key


class FieldAgreement(BaseModel):
    field: str
    compared: int  # documents where the shadow gave a reading
    agree: int
    rate: float


class FieldAccuracy(BaseModel):
    field: str
    labelled: int  # reviewed documents whose gold holds this field
    shadow_correct: int
    active_correct: int
    shadow_accuracy: float
    active_accuracy: float


class KindShadowReport(BaseModel):
    kind: str
    documents: int
    failures: int
    active_straight_through: float
    shadow_straight_through: float
    agreement: list[FieldAgreement]
    labelled: int
    accuracy: list[FieldAccuracy]


class ShadowReport(BaseModel):
    ref: str
    versions: list[str]
    active_versions: list[str]
    documents: int
    failures: int
    cost_usd: float | None
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    kinds: list[KindShadowReport]


def _same(a: Extraction, b: Extraction, name: str) -> bool:
    return comparison_key(a.value(name)) == comparison_key(b.value(name))


def _agreement(rows: Sequence[ShadowPrediction], names: Sequence[str]) -> list[FieldAgreement]:
    read = [(r.active, r.shadow) for r in rows if r.shadow is not None and r.failure is None]
    out = []
    for name in names:
        agree = sum(_same(active, shadow, name) for active, shadow in read)
        out.append(
            FieldAgreement(
                field=name, compared=len(read), agree=agree, rate=agree / len(read) if read else 0.0
            )
        )
    return out


def _accuracy(
    rows: Sequence[ShadowPrediction], gold: dict[str, dict[str, str | None]]
) -> list[FieldAccuracy]:
    counts: dict[str, list[int]] = {}
    for r in rows:
        for name, value in gold.get(r.document_id, {}).items():
            c = counts.setdefault(name, [0, 0, 0])
            c[0] += 1
            c[1] += r.shadow is not None and comparison_key(r.shadow.value(name)) == comparison_key(value)
            c[2] += comparison_key(r.active.value(name)) == comparison_key(value)
    return [
        FieldAccuracy(
            field=name,
            labelled=n,
            shadow_correct=s,
            active_correct=a,
            shadow_accuracy=s / n,
            active_accuracy=a / n,
        )
        for name, (n, s, a) in sorted(counts.items())
    ]


async def reviewer_gold(
    *, source: ReviewedSource, document_ids: set[str]
) -> dict[str, dict[str, str | None]]:
    """document id → the fields a person vouched for, for the shadowed documents reviewed."""
    gold = {}
    async for reviewed in source.reviewed():
        if reviewed.document.document_id not in document_ids:
            continue
        try:
            gold[reviewed.document.document_id] = labelled_from_review(reviewed=reviewed).gold
        except ExportError:  # an inconsistent stored review labels nothing
            continue
    return gold


def shadow_report(
    *, ref: str, predictions: Sequence[ShadowPrediction], gold: dict[str, dict[str, str | None]]
) -> ShadowReport:
    kinds = []
    for kind in sorted({p.kind for p in predictions}):
        rows = [p for p in predictions if p.kind == kind]
        labelled = [r for r in rows if r.document_id in gold]
        kinds.append(
            KindShadowReport(
                kind=kind,
                documents=len(rows),
                failures=sum(r.failure is not None for r in rows),
                active_straight_through=float(np.mean([r.active_straight_through for r in rows])),
                shadow_straight_through=float(np.mean([r.shadow_straight_through for r in rows])),
                agreement=_agreement(rows, field_names(kind)),
                labelled=len(labelled),
                accuracy=_accuracy(labelled, gold),
            )
        )
    costs = [p.cost_usd for p in predictions if p.cost_usd is not None]
    latencies = [p.latency_ms for p in predictions]
    p50, p95 = (float(v) for v in np.percentile(latencies, [50, 95])) if latencies else (None, None)
    return ShadowReport(
        ref=ref,
        versions=sorted({p.model_version for p in predictions}),
        active_versions=sorted({p.active_version for p in predictions}),
        documents=len(predictions),
        failures=sum(p.failure is not None for p in predictions),
        cost_usd=sum(costs) if costs else None,
        latency_ms_p50=p50,
        latency_ms_p95=p95,
        kinds=kinds,
    )
