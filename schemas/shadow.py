"""A shadow prediction: what a candidate extractor read on a live document, beside the
active model's reading, stored and never acted on."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from schemas.fields import DocumentKind, Extraction


class ShadowPrediction(BaseModel):
    document_id: str
    shadow_ref: str  # as configured: extractor/3, llm:MODEL@URL (a URL never carries the key)
    model_version: str  # the shadow's exact version
    active_version: str
    kind: DocumentKind
    active: Extraction
    shadow: Extraction | None = None  # None: the shadow raised or timed out (see failure)
    failure: str | None = None  # the shadow's failure; the active model's run is unaffected
    active_straight_through: bool  # the extraction cleared the routing thresholds in force
    shadow_straight_through: bool
    cost_usd: float | None = None
    latency_ms: float
    created_at: datetime | None = None
