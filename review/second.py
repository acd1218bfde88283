"""Two reviewers for the tasks that warrant it, and a lead when they disagree.

The worker turns exactly one `review.completed` per task into the decision, so the
whole two-reviewer exchange lives here and only its final answer is published:

    first answer ──(task not selected)──────────────────────────► publish (reviewer)
         │ selected: a sampled share of task ids, or an amount above the limit
         ▼
    recorded (round 1), lease dropped, back in the queue for someone else
         ▼
    second answer, given blind ──(same outcome and field values)─► publish ("a+b")
         │ they differ
         ▼
    recorded (round 2), back in the queue for leads only
         ▼
    a lead's answer (round 3), with both answers side by side ──► publish (lead)

Answers live in `review_opinions`, whose unique keys (task, round) and (task, reviewer)
make a racing second answer, or a reviewer answering twice, fail in the database.
Which tasks need two is decided when the first answer arrives and never again, so a
settings change cannot strand a task half way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, exists, false, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import (
    ReviewEventRow,
    ReviewOpinionRow,
    ReviewSubmissionRow,
    ReviewTaskRow,
    ReviewUserRow,
)
from infra.settings import ReviewSettings
from review.auth import Principal
from review.errors import AlreadySubmitted, Forbidden, NeedsTwoReviewers, SameReviewer
from schemas.values import document_amount

Op = ReviewOpinionRow
T = ReviewTaskRow
ReviewStage = Literal["first", "second", "reconcile", "final"]
_UNCHANGED = object()


@dataclass(frozen=True)
class DoubleReviewPolicy:
    """Which tasks need two reviewers; the default (share 0, no amount) needs none."""

    share: float = 0.0
    amount: float | None = None

    @classmethod
    def from_settings(cls, review: ReviewSettings) -> DoubleReviewPolicy:
        return cls(share=review.second_review_share, amount=review.second_review_amount)

    def needs_two(self, *, task_id: str, values: Mapping[str, str | None]) -> bool:
        amount = amount_of(values)
        if self.amount is not None and amount is not None and amount > Decimal(str(self.amount)):
            return True
        return sampled(task_id, share=self.share)


def sampled(task_id: str, *, share: float) -> bool:
    """A stable draw per task: the same id is in or out on every host and restart
    (Python's `hash` is salted per process, so it cannot serve)."""
    draw = int.from_bytes(hashlib.sha256(task_id.encode()).digest()[:8], "big") / 2**64
    return draw < share


amount_of = document_amount  # the amount that sizes a task, read as routing reads it


# --- the queue's view ------------------------------------------------------------------


def _has_opinion(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(col(Op.task_id) == col(T.task_id), *conds)


def eligible(*, reviewer: str, lead: bool) -> ColumnElement[bool]:
    """SQL: `reviewer` may take the task: never answered it, and reconciling needs a lead."""
    mine = ~_has_opinion(col(Op.reviewer) == reviewer)
    return and_(mine, true() if lead else ~_has_opinion(col(Op.round) == 2))


def stage_filter(stage: ReviewStage) -> ColumnElement[bool]:
    if stage == "first":
        return ~_has_opinion()
    if stage == "second":
        return and_(_has_opinion(col(Op.round) == 1), ~_has_opinion(col(Op.round) == 2))
    if stage == "reconcile":
        return _has_opinion(col(Op.round) == 2)
    return false()  # final tasks are out of the queue altogether


def rounds_column() -> Any:
    """Answers so far on each queue row (0, 1 or 2), as a correlated subquery."""
    q = select(func.count()).select_from(Op).where(col(Op.task_id) == col(T.task_id))
    return q.scalar_subquery()


def stage_of(rounds: int, *, final: bool = False) -> ReviewStage:
    return "final" if final else ("first", "second", "reconcile")[min(rounds, 2)]


async def opinions(s: AsyncSession, task_id: str) -> list[ReviewOpinionRow]:
    """The task's answers so far, in round order."""
    q = select(Op).where(col(Op.task_id) == task_id).order_by(col(Op.round))
    return list((await s.execute(q)).scalars().all())


async def check_eligible(s: AsyncSession, *, task_id: str, username: str, lead: bool) -> None:
    """Say plainly why `username` may not take the task (the lease UPDATE re-checks)."""
    if await s.get(ReviewSubmissionRow, task_id) is not None:
        raise AlreadySubmitted(f"task {task_id} already has its final answer")
    done = await opinions(s, task_id)
    if any(o.reviewer == username for o in done):
        raise SameReviewer(f"you already reviewed task {task_id}; its next review must be someone else's")
    if len(done) >= 2 and not lead:
        raise Forbidden(f"task {task_id} awaits a lead to reconcile two differing reviews")


async def check_assignee(s: AsyncSession, *, task_id: str, user: ReviewUserRow) -> None:
    await check_eligible(s, task_id=task_id, username=user.username, lead=user.role in ("lead", "admin"))


# --- answers -----------------------------------------------------------------------------


@dataclass
class Verdict:
    """What an answer became: final (publish it) or held for the next round."""

    stage: ReviewStage
    reviewer: str = ""
    outcome: str = ""
    reason: str = ""
    corrections: list[Any] = field(default_factory=list)
    reject_kind: str | None = None

    @property
    def final(self) -> bool:
        return self.stage == "final"


def corrected_values(corrections: list[Any]) -> dict[str, str | None]:
    """field → new value, from FieldCorrection objects or their stored JSON."""
    out = {}
    for c in corrections:
        d = c if isinstance(c, dict) else c.model_dump(mode="json")
        out[d["field"]] = d["new_value"]
    return out


def differing_fields(a: list[Any], b: list[Any]) -> list[str]:
    """Fields whose final value differs; a field one reviewer left alone keeps the
    extracted value, so it differs from any correction of it by the other."""
    va, vb = corrected_values(a), corrected_values(b)
    return sorted(f for f in va.keys() | vb.keys() if va.get(f, _UNCHANGED) != vb.get(f, _UNCHANGED))


async def judge(
    s: AsyncSession,
    *,
    task: ReviewTaskRow,
    actor: Principal,
    outcome: str,
    reason: str,
    corrections: list[Any],
    extracted: Mapping[str, str | None],
    policy: DoubleReviewPolicy,
    bulk: bool = False,
    reject_kind: str | None = None,
) -> Verdict:
    """Record one answer in the task's transaction and say whether to publish it. Two
    rejects agree only when they also agree on what was wrong (`reject_kind`)."""
    done = await opinions(s, task.task_id)
    mine = Verdict(
        stage="final",
        reviewer=actor.username,
        outcome=outcome,
        reason=reason,
        corrections=corrections,
        reject_kind=reject_kind,
    )
    if not done:
        corrected = {**extracted, **corrected_values(corrections)}
        if not (
            policy.needs_two(task_id=task.task_id, values=extracted)
            or policy.needs_two(task_id=task.task_id, values=corrected)
        ):
            return mine
    if bulk:
        raise NeedsTwoReviewers(f"task {task.task_id} needs two reviewers; review it on its own")
    await check_eligible(s, task_id=task.task_id, username=actor.username, lead=actor.has("lead"))
    await _record(s, task=task, answer=mine, round_=len(done) + 1)
    if not done:
        return await _hold(s, task=task, actor=actor, stage="second", detail={"round": 1})
    if len(done) == 1:
        first = done[0]
        differ = differing_fields(first.corrections, corrections)
        if first.outcome == outcome and first.reject_kind == reject_kind and not differ:
            reasons = dict.fromkeys(r for r in (first.reason, reason) if r)
            return Verdict(
                stage="final",
                reviewer=f"{first.reviewer}+{actor.username}",
                outcome=outcome,
                reason=" / ".join(reasons),
                corrections=corrections,
                reject_kind=reject_kind,
            )
        outcomes_differ = (first.outcome, first.reject_kind) != (outcome, reject_kind)
        detail = {"round": 2, "outcomes_differ": outcomes_differ, "fields": differ}
        return await _hold(s, task=task, actor=actor, stage="reconcile", detail=detail)
    return mine  # round 3: the lead's answer (check_eligible required the role)


async def _record(s: AsyncSession, *, task: ReviewTaskRow, answer: Verdict, round_: int) -> None:
    s.add(
        ReviewOpinionRow(
            task_id=task.task_id,
            document_id=task.document_id,
            kind=task.kind,
            round=round_,
            reviewer=answer.reviewer,
            outcome=answer.outcome,
            reason=answer.reason,
            corrections=[c.model_dump(mode="json") for c in answer.corrections],
            reject_kind=answer.reject_kind,
        )
    )
    try:
        await s.flush()
    except IntegrityError as exc:
        raise AlreadySubmitted(
            f"round {round_} of task {task.task_id} was just answered by someone else"
        ) from exc


async def _hold(
    s: AsyncSession, *, task: ReviewTaskRow, actor: Principal, stage: ReviewStage, detail: dict[str, Any]
) -> Verdict:
    # The audit names who answered but never what: the next reviewer must answer blind.
    await s.execute(
        update(T).where(col(T.task_id) == task.task_id).values(assignee=None, lease_expires_at=None)
    )
    action = "first review" if stage == "second" else "second review differs"
    s.add(
        ReviewEventRow(
            task_id=task.task_id,
            document_id=task.document_id,
            actor=actor.username,
            action=action,
            detail=detail,
        )
    )
    return Verdict(stage=stage)


async def answered(s: AsyncSession, *, task_id: str, username: str) -> bool:
    return any(o.reviewer == username for o in await opinions(s, task_id))
