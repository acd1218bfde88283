"""What a queue listing asks for, and the SQL pieces that answer it.

`QueueFilter` is the one parser of filter, sort and search parameters, for the JSON API
and the HTML form alike: a blank value means "no filter" (an HTML form sends every
field, filled or not), and a sort is one of a fixed set of names, never a column
name from the request. `review.queue` turns it into SQL over the queue's base
condition, so listing and counting see the same rows.

Search looks at the document id (prefix) and the vendor (invoices) or provider (claims)
name as extracted (substring, case-insensitive); the amount sorted on is the extracted
total (invoices) or claimed amount (claims).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import Float, Numeric, case, cast, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from infra.db.tables import ExtractionRow, ReviewTaskRow
from review.second import stage_filter

T = ReviewTaskRow
E = ExtractionRow
Sort = Literal["urgency", "due", "priority", "age", "amount"]
Dimension = Literal["kind", "reason", "stage"]
SORTS: tuple[Sort, ...] = ("urgency", "due", "priority", "age", "amount")


class QueueFilter(BaseModel):
    kind: str | None = None
    reason: str | None = None
    min_priority: int | None = Field(default=None, ge=0, le=100)
    min_age_hours: float | None = Field(default=None, ge=0, le=1_000_000, allow_inf_nan=False)
    assignee: str | None = Field(default=None, description="a username, or '-' for unassigned")
    stage: Literal["first", "second", "reconcile"] | None = Field(
        default=None, description="first answer, awaiting a second reviewer, or awaiting a lead"
    )
    q: str | None = Field(
        default=None, max_length=100, description="document id prefix, or part of the vendor name"
    )
    sort: Sort = Field(
        default="urgency",
        description="urgency (overdue first, then priority), due (soonest), priority (highest), "
        "age (oldest), amount (largest)",
    )
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)  # beyond, SQLite's and PostgreSQL's integers overflow

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        """An empty form field is no filter (or the default sort and page), not a bad value."""
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return cls.model_fields[str(info.field_name)].default
        return value

    def without(self, dimension: Dimension) -> QueueFilter:
        """This filter with one dimension lifted: what that dimension's counts are taken under."""
        return self.model_copy(update={dimension: None})


def _field_text(name: str) -> ColumnElement[str]:
    """The extracted value of one field, as text (NULL when not extracted)."""
    return col(E.result)[("fields", name, "value")].as_string()


def vendor_text() -> ColumnElement[str]:
    return func.coalesce(_field_text("vendor_name"), _field_text("provider_name"))


def amount_text() -> ColumnElement[str]:
    return func.coalesce(_field_text("total"), _field_text("claimed_amount"))


def _amount_number(dialect: str) -> ColumnElement[Any]:
    text = amount_text()
    if dialect == "postgresql":  # a cast of text that is no number would fail the query
        return case((text.op("~")(r"^-?[0-9]+(\.[0-9]+)?$"), cast(text, Numeric)), else_=None)
    return cast(text, Float)  # SQLite casts what is no number to 0 without failing


def conditions(f: QueueFilter, *, now: datetime, free: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """The filter's conditions, to AND with the queue's own; `free` = the task is not leased."""
    out: list[ColumnElement[bool]] = []
    if f.stage:
        out.append(stage_filter(f.stage))
    if f.kind:
        out.append(col(T.kind) == f.kind)
    if f.reason:
        out.append(col(T.primary_reason) == f.reason)
    if f.min_priority is not None:
        out.append(col(T.priority) >= f.min_priority)
    if f.min_age_hours is not None:
        out.append(col(T.created_at) <= now - timedelta(hours=f.min_age_hours))
    if f.assignee == "-":
        out.append(free)
    elif f.assignee:
        out.append(col(T.assignee) == f.assignee)
        out.append(col(T.lease_expires_at) >= now)
    if f.q:
        vendor = func.lower(vendor_text()).contains(f.q.lower(), autoescape=True)
        out.append(or_(col(T.document_id).startswith(f.q, autoescape=True), vendor))
    return out


def ordering(f: QueueFilter, *, urgency: list[Any], dialect: str) -> list[Any]:
    """ORDER BY for the whitelisted sort; the urgency order breaks ties, then the task id
    (so paging is stable)."""
    by_sort: dict[Sort, list[Any]] = {
        "urgency": [],
        "due": [col(T.due_at)],
        "priority": [col(T.priority).desc()],
        "age": [col(T.created_at)],
        "amount": [_amount_number(dialect).desc().nulls_last()],
    }
    return [*by_sort[f.sort], *urgency, col(T.task_id)]
