"""Leads and admins give reviewers their scopes (review/scopes.py): add, list, remove.

The API (review/api_scopes.py) and the CLI (`autoclerk users scopes ...`) call these.
A reviewer may list their own scopes; everything else needs a lead.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from infra.db.tables import ReviewScopeRow, ReviewUserRow
from review.auth import Principal
from review.errors import Invalid, NotFound
from schemas.fields import ClaimType, DocumentKind
from schemas.ids import QueueName
from schemas.scope import vendor_key

_CONDITIONS = ("kind", "vendor", "claim_type", "amount_min", "amount_max", "queue")


class ScopeIn(BaseModel):
    """A new scope: the conditions a task must all meet. `all` (and no condition)
    grants every task; a scope with no condition is refused otherwise, so that an
    empty form never hands out the whole queue by mistake."""

    model_config = ConfigDict(extra="forbid")

    kind: DocumentKind | None = None
    vendor: str | None = Field(default=None, min_length=1, max_length=200, description="case-insensitive")
    claim_type: ClaimType | None = None
    amount_min: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="inclusive")
    amount_max: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="exclusive")
    queue: QueueName | None = None
    all: bool = False

    @model_validator(mode="after")
    def _coherent(self) -> ScopeIn:
        given = [n for n in _CONDITIONS if getattr(self, n) is not None]
        if self.all and given:
            raise ValueError(f"a scope of all tasks takes no conditions, got {', '.join(given)}")
        if not self.all and not given:
            raise ValueError(f"name at least one of {', '.join(_CONDITIONS)}, or all=true for every task")
        if self.vendor is not None and vendor_key(self.vendor) is None:
            raise ValueError("vendor is blank")
        lo, hi = self.amount_min, self.amount_max
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError("amount_min must be below amount_max")
        return self


class ScopeOut(BaseModel):
    id: int
    username: str
    kind: str | None
    vendor: str | None
    claim_type: str | None
    amount_min: float | None
    amount_max: float | None
    queue: str | None
    created_by: str
    created_at: datetime


async def grant(s: AsyncSession, *, username: str, scope: ScopeIn, by: str) -> ScopeOut:
    """Add a scope without a role check: for `add_scope` and the composition root (the
    demo's reviewer)."""
    user = await s.get(ReviewUserRow, username)
    if user is None:
        raise Invalid(f"no user {username!r}")
    row = ReviewScopeRow(
        username=username,
        **scope.model_dump(include=set(_CONDITIONS)),
        created_by=by,
    )
    row.vendor = vendor_key(scope.vendor)
    s.add(row)
    await s.commit()
    await s.refresh(row)
    return ScopeOut.model_validate(row, from_attributes=True)


async def add_scope(s: AsyncSession, *, actor: Principal, username: str, scope: ScopeIn) -> ScopeOut:
    actor.require("lead")
    return await grant(s, username=username, scope=scope, by=actor.username)


async def list_scopes(s: AsyncSession, *, actor: Principal, username: str | None = None) -> list[ScopeOut]:
    """One user's scopes (anyone may list their own), or everyone's (leads)."""
    if username != actor.username:
        actor.require("lead")
    q = select(ReviewScopeRow).order_by(col(ReviewScopeRow.username), col(ReviewScopeRow.id))
    if username is not None:
        q = q.where(col(ReviewScopeRow.username) == username)
    return [ScopeOut.model_validate(r, from_attributes=True) for r in (await s.execute(q)).scalars()]


async def remove_scope(
    s: AsyncSession, *, actor: Principal, scope_id: int, username: str | None = None
) -> None:
    """Remove one scope; with `username`, only if it is that user's."""
    actor.require("lead")
    row = await s.get(ReviewScopeRow, scope_id)
    if row is None or (username is not None and row.username != username):
        raise NotFound(f"no scope {scope_id}" + (f" of {username}" if username else ""))
    await s.delete(row)
    await s.commit()
