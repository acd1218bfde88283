"""What a task page shows of a double review: its stage, and both answers side by
side once nobody is left to answer blind (the lead reconciling, or afterwards)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from review.second import ReviewStage, corrected_values, differing_fields, opinions, stage_of


class ComparedField(BaseModel):
    name: str
    extracted: str | None
    values: list[str | None]
    differs: bool


class Answer(BaseModel):
    round: int
    reviewer: str
    outcome: str
    reason: str
    reject_kind: str | None = None


class ReviewState(BaseModel):
    """Where the task stands; the answers only once nobody is left to answer blind."""

    stage: ReviewStage
    rounds: int
    answers: list[Answer] = []
    fields: list[ComparedField] = []
    outcomes_differ: bool = False


async def review_state(
    s: AsyncSession, *, task_id: str, extracted: Mapping[str, str | None], final: bool
) -> ReviewState:
    done = await opinions(s, task_id)
    stage = stage_of(len(done), final=final)
    if stage not in ("reconcile", "final") or len(done) < 2:
        return ReviewState(stage=stage, rounds=len(done))
    pair = done[:2]
    values = [corrected_values(o.corrections) for o in pair]
    differ = set(differing_fields(pair[0].corrections, pair[1].corrections))
    names = list(extracted) + sorted({f for v in values for f in v} - extracted.keys())
    rows = [
        ComparedField(
            name=n,
            extracted=extracted.get(n),
            values=[v.get(n, extracted.get(n)) for v in values],
            differs=n in differ,
        )
        for n in names
    ]
    answers = [
        Answer(
            round=o.round, reviewer=o.reviewer, outcome=o.outcome, reason=o.reason, reject_kind=o.reject_kind
        )
        for o in done
    ]
    return ReviewState(
        stage=stage,
        rounds=len(done),
        answers=answers,
        fields=rows,
        outcomes_differ=(pair[0].outcome, pair[0].reject_kind) != (pair[1].outcome, pair[1].reject_kind),
    )
