"""Fine-tuning jobs as the provider reports them and as `finetune_jobs` records them.

Shared by `feedback.finetune_jobs` (the flow) and the adapters in `infra/` that talk
to the provider and the table, which may import only this package.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

# The provider's statuses after which nothing changes any more.
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


class ProviderJob(BaseModel):
    """What the provider says about a job."""

    job_id: str
    status: str
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = None
    finished_at: datetime | None = None


class JobRecord(BaseModel):
    """A `finetune_jobs` row."""

    job_id: str
    base_model: str
    suffix: str | None = None
    training_file: str
    validation_file: str | None = None
    training_sha256: str
    manifest: dict[str, Any] = Field(default_factory=dict)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    status: str
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = None
    registered_version: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
