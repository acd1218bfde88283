"""Fit per-field routing thresholds to a target error rate, and check them on held-out data.

A field's threshold is the lowest confidence at which the fields accepted (confidence
at or above it) still have an error rate of at most `target_error` — not as a point
estimate, but as the one-sided upper confidence bound (Clopper-Pearson, exact
binomial, 95 % by default). A point estimate of "0 errors in 40" would pass a 1 %
target on luck; the upper bound of 0 in 40 is 7.2 %, so small samples cannot certify a
small error rate. Exact rather than Wilson because Wilson's interval is too narrow near
zero errors, which is exactly where a 1 % target sits.

Thresholds are tested from the highest confidence downwards and the walk stops at the
first one whose bound exceeds the target (fixed-sequence testing, as in "Learn then
Test", Angelopoulos et al. 2021): testing in a fixed order keeps the 95 % guarantee
without a multiple-comparison correction, where picking the lowest passing threshold
anywhere would shop among many tests. The walk starts where a pass is possible at all:
at least `min_support` accepted, and enough that even zero errors would meet the target
(`needed_support`: 299 for 1 % at 95 %); stopping earlier would only punish a threshold
for its small sample. A field that never gets there, or whose first tested threshold
fails, gets `NEVER_AUTO`: a value no confidence can reach, so it always goes to a person.

Fit on one set of predictions and report on another: `heldout_report` measures the
straight-through rate and the error of what goes straight through when all fields'
thresholds apply together, on documents the fit never saw.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from feedback.errors import EvaluationError
from schemas.document import LabelledDocument
from schemas.fields import Extraction
from schemas.values import comparison_key

# Confidences live in [0, 1]; a threshold just above 1 can never be met, even by a
# model that reports a confidence of exactly 1.0.
NEVER_AUTO = math.nextafter(1.0, 2.0)
Budget = Literal["field", "document"]


class FieldFit(BaseModel):
    kind: str
    field: str
    threshold: float
    candidates: int  # predictions with a value, i.e. that could go straight through
    support: int  # accepted at the threshold (or at the first testable one, on fallback)
    errors: int  # wrong among those accepted
    error_bound: float | None  # upper confidence bound of the error rate; None: untested
    fallback: str | None = None  # why the field never goes straight through


class FittedThresholds(BaseModel):
    target_error: float
    # "field": each field's error bound meets the target, so a document with k such
    # fields may be wrong up to k times as often; "document": each field gets target/k
    # (union bound), so what goes straight through is wrong at most at the target.
    budget: Budget = "field"
    confidence: float
    min_support: int
    documents: int
    fields: list[FieldFit]

    def thresholds(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for f in self.fields:
            out.setdefault(f.kind, {})[f.field] = f.threshold
        return out


class KindReport(BaseModel):
    kind: str
    documents: int
    straight_through: int
    straight_through_rate: float
    errors: int  # straight-through documents with at least one wrong mandatory field
    error_rate: float  # errors / straight_through (0.0 when none went through)
    error_bound: float | None  # upper confidence bound of error_rate; None: nothing went through


class HeldoutReport(BaseModel):
    confidence: float
    kinds: list[KindReport]


def error_upper_bound(*, errors: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of an error rate seen as `errors` in `n`."""
    if n <= 0:
        return 1.0
    if errors >= n:
        return 1.0
    # imported on use: scipy.stats takes seconds to import, which every CLI start would pay
    from scipy.stats import beta

    return float(beta.ppf(confidence, errors + 1, n - errors))


def needed_support(*, target_error: float, confidence: float = 0.95) -> int:
    """Fewest accepted predictions whose bound can meet `target_error` (with no error)."""
    return math.ceil(math.log(1 - confidence) / math.log(1 - target_error))


def fit_field(
    *,
    kind: str,
    field: str,
    confidences: Sequence[float],
    correct: Sequence[bool],
    target_error: float,
    min_support: int = 30,
    confidence: float = 0.95,
) -> FieldFit:
    """Lowest threshold reached by lowering from the top while the error bound holds."""
    pairs = sorted(zip(confidences, correct, strict=True), key=lambda p: -p[0])
    floor = max(min_support, needed_support(target_error=target_error, confidence=confidence))
    best: FieldFit | None = None
    first_tested: FieldFit | None = None
    n = errors = 0
    for i, (conf, ok) in enumerate(pairs):
        n += 1
        errors += not ok
        if i + 1 < len(pairs) and pairs[i + 1][0] == conf:
            continue  # ties are accepted together: test each distinct confidence once
        if n < floor:
            continue
        bound = error_upper_bound(errors=errors, n=n, confidence=confidence)
        fit = FieldFit(
            kind=kind,
            field=field,
            threshold=conf,
            candidates=len(pairs),
            support=n,
            errors=errors,
            error_bound=bound,
        )
        first_tested = first_tested or fit
        if bound > target_error:
            break
        best = fit
    if best is not None:
        return best
    if first_tested is None:
        return FieldFit(
            kind=kind,
            field=field,
            threshold=NEVER_AUTO,
            candidates=len(pairs),
            support=0,
            errors=0,
            error_bound=None,
            fallback=f"insufficient support: {len(pairs)} predictions, {floor} needed",
        )
    return first_tested.model_copy(
        update={
            "threshold": NEVER_AUTO,
            "fallback": f"error bound {first_tested.error_bound:.4f} above target "
            f"{target_error} already at {first_tested.support} accepted",
        }
    )


def _aligned(predictions: Sequence[Extraction], gold: Sequence[LabelledDocument]) -> None:
    if len(predictions) != len(gold):
        raise EvaluationError(f"{len(predictions)} predictions for {len(gold)} gold documents")
    for p, g in zip(predictions, gold, strict=True):
        if p.kind != g.kind:
            raise EvaluationError(f"{g.document_id}: predicted kind {p.kind}, gold {g.kind}")


def is_correct(prediction: Extraction, document: LabelledDocument, name: str) -> bool:
    return comparison_key(prediction.value(name)) == comparison_key(document.gold.get(name))


def fit_thresholds(
    *,
    predictions: Sequence[Extraction],
    gold: Sequence[LabelledDocument],
    target_error: float,
    mandatory: Mapping[str, Sequence[str]],
    min_support: int = 30,
    confidence: float = 0.95,
    budget: Budget = "field",
) -> FittedThresholds:
    """Per (kind, mandatory field) thresholds; `predictions[i]` is for `gold[i]`, and
    must come from a model that did not train on `gold`. Kinds without documents get
    `NEVER_AUTO` for all their fields (no evidence, no automation)."""
    _aligned(predictions, gold)
    fits = []
    for kind, names in mandatory.items():
        field_target = target_error / len(names) if budget == "document" and names else target_error
        pairs = [(p, g) for p, g in zip(predictions, gold, strict=True) if g.kind == kind and not p.failure]
        for name in names:
            # a missing value never goes straight through on confidence: rules see it
            valued = [(p, g) for p, g in pairs if p.value(name) is not None]
            fits.append(
                fit_field(
                    kind=kind,
                    field=name,
                    confidences=[p.confidence(name) for p, _ in valued],
                    correct=[is_correct(p, g, name) for p, g in valued],
                    target_error=field_target,
                    min_support=min_support,
                    confidence=confidence,
                )
            )
    return FittedThresholds(
        target_error=target_error,
        budget=budget,
        confidence=confidence,
        min_support=min_support,
        documents=len(gold),
        fields=fits,
    )


def goes_straight_through(
    prediction: Extraction, *, thresholds: Mapping[str, float], names: Sequence[str]
) -> bool:
    """Every mandatory field present and at or above its threshold (as `route` checks)."""
    if prediction.failure:
        return False
    return all(
        prediction.value(n) is not None and prediction.confidence(n) >= thresholds.get(n, NEVER_AUTO)
        for n in names
    )


def heldout_report(
    *,
    thresholds: Mapping[str, Mapping[str, float]],
    predictions: Sequence[Extraction],
    gold: Sequence[LabelledDocument],
    mandatory: Mapping[str, Sequence[str]],
    confidence: float = 0.95,
) -> HeldoutReport:
    """Document-level straight-through rate and error with all thresholds together.

    Extraction only: triage risk and rules may still send a document to review, so the
    service's straight-through rate is at most this."""
    _aligned(predictions, gold)
    kinds = []
    for kind, names in mandatory.items():
        pairs = [(p, g) for p, g in zip(predictions, gold, strict=True) if g.kind == kind]
        if not pairs:
            continue
        limits = thresholds.get(kind, {})
        through = [(p, g) for p, g in pairs if goes_straight_through(p, thresholds=limits, names=names)]
        wrong = sum(1 for p, g in through if not all(is_correct(p, g, n) for n in names))
        kinds.append(
            KindReport(
                kind=kind,
                documents=len(pairs),
                straight_through=len(through),
                straight_through_rate=len(through) / len(pairs),
                errors=wrong,
                error_rate=wrong / len(through) if through else 0.0,
                error_bound=error_upper_bound(errors=wrong, n=len(through), confidence=confidence)
                if through
                else None,
            )
        )
    return HeldoutReport(confidence=confidence, kinds=kinds)


def split_in_two(
    documents: Sequence[LabelledDocument], *, salt: str = "routing-fit"
) -> tuple[list[LabelledDocument], list[LabelledDocument]]:
    """(fit, report) halves by a salted hash of the document id: stable across runs and
    independent of the hash that declared the train/test split."""

    def half(doc: LabelledDocument) -> int:
        return int(hashlib.sha256(f"{salt}:{doc.document_id}".encode()).hexdigest()[:8], 16) % 2

    return [d for d in documents if half(d) == 0], [d for d in documents if half(d) == 1]


def thresholds_file(
    *,
    fitted: FittedThresholds,
    heldout: HeldoutReport,
    model_version: str,
    max_risk: float,
    protocol: str,
) -> dict[str, object]:
    """The JSON `agents.routing.RoutingPolicy.load` reads, plus a `report` section."""
    thresholds = fitted.thresholds()
    digest = hashlib.sha256(
        json.dumps([model_version, fitted.target_error, thresholds], sort_keys=True).encode()
    ).hexdigest()[:12]
    return {
        "version": f"fit-{digest}",
        # fields the fit did not cover must not pass on a guessed default
        "default_threshold": NEVER_AUTO,
        "max_risk": max_risk,
        "thresholds": thresholds,
        "report": {
            "model_version": model_version,
            "protocol": protocol,
            "fit": fitted.model_dump(),
            "heldout": heldout.model_dump(),
        },
    }


def write_json_atomic(data: Mapping[str, object], path: Path) -> None:
    """Readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
