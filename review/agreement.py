"""How often two independent reviewers agree, per field and on the outcome.

Read from the first and second answers of double-reviewed tasks (review/second.py).
A field one reviewer left alone keeps the extracted value, so "agree" means the same
final value, whether both corrected it alike or both left it. Outcome agreement comes
with Cohen's kappa, which discounts the agreement two raters would reach by chance
given how often each picks each outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import ReviewOpinionRow
from review.second import differing_fields
from schemas.fields import DocumentKind, field_names

Op = ReviewOpinionRow


class FieldAgreement(BaseModel):
    field: str
    agreed: int
    total: int
    rate: float | None


class Agreement(BaseModel):
    tasks: int
    outcome_agreed: int
    outcome_rate: float | None
    outcome_kappa: float | None
    fields: list[FieldAgreement]


def _rate(a: int, n: int) -> float | None:
    return a / n if n else None


def kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of (first, second) labels; None where chance agreement is total."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[k] * second[k] for k in first) / (n * n)
    return None if expected >= 1 else (observed - expected) / (1 - expected)


def summarise(pairs: Iterable[tuple[ReviewOpinionRow, ReviewOpinionRow]]) -> Agreement:
    """Agreement over (first, second) answer pairs, one pair per task."""
    outcomes: list[tuple[str, str]] = []
    agreed: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for a, b in pairs:
        outcomes.append((a.outcome, b.outcome))
        names = _field_names(a.kind, a.corrections, b.corrections)
        differ = set(differing_fields(a.corrections, b.corrections))
        for name in names:
            seen[name] += 1
            agreed[name] += name not in differ
    n_agreed = sum(x == y for x, y in outcomes)
    return Agreement(
        tasks=len(outcomes),
        outcome_agreed=n_agreed,
        outcome_rate=_rate(n_agreed, len(outcomes)),
        outcome_kappa=kappa(outcomes),
        fields=[
            FieldAgreement(field=f, agreed=agreed[f], total=n, rate=_rate(agreed[f], n))
            for f, n in seen.items()
        ],
    )


def _field_names(kind: str, *corrections: list[Any]) -> list[str]:
    names = list(field_names(cast(DocumentKind, kind))) if kind in ("invoice", "claim") else []
    extra = {c["field"] for cs in corrections for c in cs} - set(names)
    return names + sorted(extra)


async def agreement(s: AsyncSession, *, since: datetime | None = None) -> Agreement:
    q = select(Op).where(col(Op.round) <= 2).order_by(col(Op.task_id), col(Op.round))
    if since is not None:
        # A pair counts from its second answer, the moment the agreement is known.
        recent = select(col(Op.task_id)).where(col(Op.round) == 2, col(Op.created_at) >= since)
        q = q.where(col(Op.task_id).in_(recent))
    by_task: dict[str, list[ReviewOpinionRow]] = {}
    for row in (await s.execute(q)).scalars():
        by_task.setdefault(row.task_id, []).append(row)
    return summarise((rows[0], rows[1]) for rows in by_task.values() if len(rows) == 2)
