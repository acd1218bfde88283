"""Transport-neutral message shapes shared by the service layer and the Kafka edge."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MessageMeta:
    """Where a consumed message came from: its identity in the ledger."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None
    key: bytes | None = None
    epoch: str = ""
    """The broker incarnation the offset belongs to; offsets restart after a reset."""


@dataclass(frozen=True)
class Outgoing:
    """A message to publish. `outbox_id` ties it to the row that marks it emitted."""

    topic: str
    key: bytes | None
    value: bytes
    outbox_id: int | None = None


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix; a fresh prefix isolates a test or a tenant."""

    received: str
    decided: str
    review_requested: str
    review_completed: str
    corrections: str
    deadletter: str

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(
            received=f"{prefix}.documents.received",
            decided=f"{prefix}.documents.decided",
            review_requested=f"{prefix}.review.requested",
            review_completed=f"{prefix}.review.completed",
            corrections=f"{prefix}.feedback.corrections",
            deadletter=f"{prefix}.documents.deadletter",
        )

    def all(self) -> list[str]:
        return [
            self.received,
            self.decided,
            self.review_requested,
            self.review_completed,
            self.corrections,
            self.deadletter,
        ]
