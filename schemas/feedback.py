"""What the feedback loop reads from the store: a document a person reviewed.

The store hands these to `feedback.export`, which turns each into a labelled document
(the model's values with the reviewer's corrections applied). Kept in `schemas` so the
store adapter (infra) and the export (feedback) share it without importing each other.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from schemas.document import Document
from schemas.events import FieldCorrection
from schemas.fields import Extraction


class ReviewedDocument(BaseModel):
    """A completed review: the document as stored, what the model extracted, and what
    the reviewer changed. Which unchanged fields count as confirmed depends on the
    outcome (feedback/export.py, `checked_fields`)."""

    document: Document
    extraction: Extraction
    corrections: list[FieldCorrection] = Field(default_factory=list)
    task_id: str
    reviewer: str
    outcome: str
    reviewed_at: datetime | None = None
    reject_kind: str | None = Field(
        default=None, description="on a reject: business | fields; None when not given (older answers)"
    )
    review_rounds: int = Field(
        default=1,
        description="answers the task took: 1 one reviewer, 2 two who agreed, 3 a lead reconciled two "
        "differing answers. The outcome and corrections are always the final (published) answer",
    )
