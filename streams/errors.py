"""Failures at the Kafka edge.

A message either succeeds, becomes a dead letter (its failure is permanent), or
is retried (its failure is transient). Only the last kind is an exception that
leaves this package:

    StreamsError
    ├── RetryableError           transient; the edge retries with backoff
    │   └── DeliveryError        the broker did not acknowledge a publish
    ├── UndeliverableError       permanent: the producer or broker can never accept these
    │                            outgoing messages (over the size budget or the request size,
    │                            refused as too large or corrupt); the handler records them
    │                            as failed in the outbox and acknowledges the input
    └── RetriesExhaustedError    a retryable failure outlived its retries; the worker
                                 stops without committing so the message comes again

Unexpected exceptions from a processor are not in this tree: they are caught per
message and turned into a dead letter (`streams.deadletter`). The composition root
may declare more exception types retryable (for example
`infra.errors.RetryableInfraError`) through `build_app(retryable=...)`.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.messages import Outgoing


class StreamsError(Exception):
    """Root of the errors raised by the Kafka edge."""


class RetryableError(StreamsError):
    """A transient failure: the same message may succeed if processed again later."""


class DeliveryError(RetryableError):
    """Publishing an outgoing message failed or was not acknowledged."""


class UndeliverableError(StreamsError):
    """Some outgoing messages can never be sent; every other one was acknowledged.

    Retrying would fail the same way forever and block the partition, so this is not
    a `RetryableError`.
    """

    def __init__(self, reason: str, *, messages: Sequence[Outgoing]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.messages = list(messages)


class RetriesExhaustedError(StreamsError):
    """Retries ran out; the worker must stop so the uncommitted message is redelivered."""

    def __init__(self, *, topic: str, partition: int, offset: int, attempts: int) -> None:
        super().__init__(
            f"gave up on {topic}[{partition}]@{offset} after {attempts} attempts; "
            "stopping so it is redelivered"
        )
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.attempts = attempts
