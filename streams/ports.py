"""What the Kafka edge needs from the service layer.

The stream agents stay thin: they hand raw bytes and where they came from to a
`Processor` and publish what it returns. The message shapes live in
`schemas.messages` so the service layer can build them without importing faust.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from schemas.messages import MessageMeta, Outgoing

__all__ = ["MessageMeta", "Outgoing", "Processor"]


@runtime_checkable
class Processor(Protocol):
    """Turns one consumed message into the messages to publish.

    Contract:
    - Bad input is not an exception: the processor returns an `Outgoing` to the
      dead-letter topic itself.
    - Every call is idempotent per (topic, partition, offset): delivery is at least
      once, so a redelivered message must yield the same effects, not new ones.
    - Raise a retryable error (see `streams.errors`) for transient failures; the
      edge retries with backoff and, when retries run out, stops the worker without
      committing the offset so the message is delivered again.
    - `mark_emitted` is called after every returned `Outgoing` was acknowledged by
      the broker, with the `outbox_id`s that were set.
    - `dead_letter` records a message the edge could not process (an unexpected
      error) in the database and returns the dead-letter message to publish, so
      every dead letter is in the store, whichever layer refused the message.
    - `mark_undeliverable` is called with the `outbox_id`s of messages the broker can
      never accept (too large, refused as invalid) and the reason; it records them as
      failed so they are not announced again, and the input is then acknowledged.
    """

    async def on_received(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]: ...

    async def on_review_completed(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]: ...

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None: ...

    async def dead_letter(
        self, *, raw: bytes, meta: MessageMeta, reason: str, error_type: str
    ) -> list[Outgoing]: ...
    async def mark_undeliverable(self, *, outbox_ids: list[int], reason: str) -> None: ...
