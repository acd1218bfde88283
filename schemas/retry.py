"""What an LLM retry reads from the store and writes to its audit.

Kept in `schemas` so the store adapter (infra) and the retry service (agents) share
them without importing each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from schemas.document import Document


class RetryCandidate(BaseModel):
    """An open review task whose extraction failed because the LLM was unavailable,
    that no person has touched yet, with the stored document to extract again."""

    task_id: str
    document_id: str
    created_at: datetime
    received_at: datetime
    thread_id: str = Field(description="the workflow thread the task waits on")
    correlation_id: str
    failure: str = Field(description="the extraction failure that sent it to review")
    document: Document


class RetryAudit(BaseModel):
    """One review-audit event (`review_events`) written by the retry, never by a person."""

    actor: str
    action: str
    detail: dict[str, Any] = Field(default_factory=dict)
