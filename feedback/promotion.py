"""The promotion gate: a retrained extractor replaces the current one only if it is
not worse on documents neither of them trained on.

Both models are scored on the declared test split of all the data (shipped plus
exported corrections), on the mandatory fields of each kind, and compared on
document-level accuracy: the share of documents whose every mandatory field is right,
which is what decides whether a document can go straight through. A tolerance (half
a point by default) keeps noise from blocking a retrain; `force` overrides the gate,
and the reason is always stated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from agents.ports import Extractor
from feedback.evaluation import EvalReport, evaluate, predict
from schemas.catalogue import MANDATORY
from schemas.document import LabelledDocument
from schemas.fields import DocumentKind

DEFAULT_TOLERANCE = 0.005


class GateVerdict(BaseModel):
    promote: bool
    reason: str
    candidate: dict[str, float]  # kind -> document accuracy of mandatory fields
    current: dict[str, float]


async def mandatory_reports(
    *, extractor: Extractor, test: Sequence[LabelledDocument]
) -> dict[str, EvalReport]:
    """Per kind in `test`: the extractor's report on that kind's mandatory fields."""
    predictions = await predict(extractor=extractor, documents=test)
    kinds: list[DocumentKind] = sorted({d.kind for d in test})
    return {
        kind: evaluate(predictions=predictions, gold=test, kind=kind, fields=MANDATORY[kind])
        for kind in kinds
    }


def gate(
    *,
    candidate: Mapping[str, EvalReport],
    current: Mapping[str, EvalReport] | None,
    tolerance: float = DEFAULT_TOLERANCE,
    force: bool = False,
) -> GateVerdict:
    """Promote when no kind's document accuracy drops by more than `tolerance`."""
    cand = {k: r.document_accuracy for k, r in candidate.items()}
    if current is None:
        return GateVerdict(promote=True, reason="no usable current model", candidate=cand, current={})
    cur = {k: r.document_accuracy for k, r in current.items()}
    worse = [
        f"{k} {cand[k]:.3f} < {cur.get(k, 0.0):.3f} - {tolerance:.3f}"
        for k in sorted(cand)
        if cand[k] < cur.get(k, 0.0) - tolerance
    ]
    if not worse:
        return GateVerdict(
            promote=True,
            reason=f"not worse on any kind (tolerance {tolerance:.3f})",
            candidate=cand,
            current=cur,
        )
    why = "candidate is worse on document accuracy of mandatory fields: " + "; ".join(worse)
    if force:
        return GateVerdict(promote=True, reason=f"forced, although {why}", candidate=cand, current=cur)
    return GateVerdict(promote=False, reason=why, candidate=cand, current=cur)
