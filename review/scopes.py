"""Queue scopes: which tasks, and so which documents, a principal may see.

A scope (a `review_scopes` row) names some of: a kind, a vendor, a claim type, an amount
band [min, max) and a named queue. It matches a task when every condition it names
holds; a reviewer sees the tasks that any of their scopes match, and the documents of
those tasks (audit trail, PDF pages). The task's attributes are columns of
`review_tasks`, set when the task was routed (schemas/scope.py).

Who sees what:

    lead, admin   every task and document
    reviewer      the tasks their scopes match; none without a scope, unless the
                  deployment sets AUTOCLERK_REVIEW__REVIEWERS_SEE_ALL=true (a small team
                  where everyone reviews everything)

Every query of the review service takes a `Visibility` and puts `tasks()` in its WHERE
clause: the queue, its facets and counts, lease-next, claim, the task, submit, release,
escalate, reassign, bulk approve, the audit trail and the PDF pages. What is out of
scope is answered exactly as what does not exist (`NotFound`, 404, the same message),
so a guessed id tells nothing about whether it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import ReviewScopeRow, ReviewTaskRow, ReviewUserRow
from review.auth import Principal, Role
from review.errors import NotFound

S = ReviewScopeRow
T = ReviewTaskRow


def _matches() -> ColumnElement[bool]:
    """SQL: the scope row S matches the task row T (unset conditions match anything)."""
    return and_(
        or_(col(S.kind).is_(None), col(S.kind) == col(T.kind)),
        or_(col(S.vendor).is_(None), col(S.vendor) == col(T.vendor)),
        or_(col(S.claim_type).is_(None), col(S.claim_type) == col(T.claim_type)),
        or_(col(S.amount_min).is_(None), col(T.amount) >= col(S.amount_min)),
        or_(col(S.amount_max).is_(None), col(T.amount) < col(S.amount_max)),
        or_(col(S.queue).is_(None), col(S.queue) == col(T.queue)),
    )


@dataclass(frozen=True)
class Visibility:
    """What one principal may see. `username` None: everything (a lead, an admin)."""

    username: str | None

    @property
    def everything(self) -> bool:
        return self.username is None

    def tasks(self) -> ColumnElement[bool]:
        """SQL condition on `review_tasks`: the task is in scope."""
        if self.username is None:
            return true()
        return exists().where(col(S.username) == self.username, _matches())


EVERYTHING = Visibility(username=None)


@dataclass(frozen=True)
class ScopePolicy:
    """The deployment's default for reviewers (`ReviewSettings.reviewers_see_all`)."""

    reviewers_see_all: bool = False

    def visibility(self, actor: Principal) -> Visibility:
        if actor.has("lead") or self.reviewers_see_all:
            return EVERYTHING
        return Visibility(username=actor.username)

    def of(self, user: ReviewUserRow) -> Visibility:
        """What another user sees (the new assignee of a reassigned task)."""
        return self.visibility(Principal(username=user.username, role=cast(Role, user.role), via="session"))


async def visible_task(s: AsyncSession, *, task_id: str, seen: Visibility) -> ReviewTaskRow:
    """The task, if it exists and is in scope; NotFound alike otherwise."""
    task = (await s.execute(select(T).where(col(T.task_id) == task_id, seen.tasks()))).scalar_one_or_none()
    if task is None:
        raise NotFound(f"no task {task_id}")
    return task


async def sees_task(s: AsyncSession, *, task_id: str, seen: Visibility) -> bool:
    q = select(col(T.task_id)).where(col(T.task_id) == task_id, seen.tasks())
    return (await s.execute(q)).first() is not None


async def check_document(s: AsyncSession, *, document_id: str, seen: Visibility) -> None:
    """NotFound unless the document has a task in scope; leads see every document
    (whether it exists is then the caller's own lookup)."""
    if seen.everything:
        return
    q = select(col(T.task_id)).where(col(T.document_id) == document_id, seen.tasks()).limit(1)
    if (await s.execute(q)).first() is None:
        raise NotFound(f"no document {document_id}")
