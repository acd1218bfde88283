"""Failures at the Kafka edge.

A message either succeeds, becomes a dead letter (its failure is permanent), or
is retried (its failure is transient). Only the last kind is an exception that
leaves this package:

    StreamsError
    ├── RetryableError           transient; the edge retries with backoff
    │   └── DeliveryError        the broker did not acknowledge a publish
    └── RetriesExhaustedError    a retryable failure outlived its retries; the worker
                                 stops without committing so the message comes again

Unexpected exceptions from a processor are not in this tree: they are caught per
message and turned into a dead letter (`streams.deadletter`). The composition root
may declare more exception types retryable (for example
`infra.errors.RetryableInfraError`) through `build_app(retryable=...)`.
"""

from __future__ import annotations


class StreamsError(Exception):
    """Root of the errors raised by the Kafka edge."""


class RetryableError(StreamsError):
    """A transient failure: the same message may succeed if processed again later."""


class DeliveryError(RetryableError):
    """Publishing an outgoing message failed or was not acknowledged."""


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
