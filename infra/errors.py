"""Failures raised by the adapters in `infra/`.

Callers decide what to do from the branch, never from the message: a retryable
error may succeed if the same call is made again later (back off and retry); a
permanent error will fail the same way every time (dead-letter the input with the
error's message as the reason, or send it to human review).

    InfraError
    ├── RetryableInfraError      transient: the outside world may recover
    │   └── LlmUnavailable       the LLM server timed out, was unreachable, rate-limited
    │                            us (429) or failed (5xx); `retry_after_s` when it said
    │   └── FineTuneUnavailable  the fine-tuning/files API timed out, was unreachable, 429 or 5xx
    └── PermanentInfraError      the input or configuration is wrong; retrying is useless
        ├── LlmRequestRejected   the LLM server refused the request itself (400, 401,
        │                        404, 422: bad key, unknown model, unsupported schema)
        ├── FineTuneRejected     the fine-tuning/files API refused the request (400, 401, 404)
        ├── PdfUnreadable        bytes are not a readable PDF with a text layer
        │                        (`reason`: not_pdf, encrypted, no_text, too_many_pages, page_too_large)
        ├── BrokerError          the embedded tansu broker cannot start or is not running
        │   ├── BrokerNotReadyError  it started but exited or never answered a metadata request
        │   └── BrokerStorageError   its durable storage (the local S3 folder server) did not start
        ├── TopicCreationError   the broker refused to create a topic (other than "exists")
        └── EpochMarkerError     the broker's epoch marker could not be written or read back

Add new adapters' errors under the branch that matches how they must be handled,
and draw them in the tree above.
"""

from __future__ import annotations

from typing import Literal


class InfraError(Exception):
    """Root of every error raised by an infra adapter."""


class RetryableInfraError(InfraError):
    """A transient failure (timeouts, connection loss, rate limits)."""


class PermanentInfraError(InfraError):
    """A failure that repeating the call cannot fix."""


PdfProblem = Literal["not_pdf", "encrypted", "no_text", "too_many_pages", "page_too_large"]


class PdfUnreadable(PermanentInfraError):
    """The bytes cannot be turned into text lines.

    `reason` is a short machine-readable code for dead-letter records and metrics;
    the message says the same for a person.
    """

    def __init__(self, reason: PdfProblem, detail: str) -> None:
        super().__init__(f"PDF unreadable ({reason}): {detail}")
        self.reason: PdfProblem = reason
        self.detail = detail


class BrokerError(PermanentInfraError):
    """The embedded broker cannot be started (no binary, bad port) or is not running."""


class BrokerNotReadyError(BrokerError):
    """tansu started but exited, or did not answer a metadata request in time."""


class BrokerStorageError(BrokerError):
    """The embedded broker's durable storage (localbucket on a local folder) did not start."""


class EpochMarkerError(PermanentInfraError):
    """The `<prefix>.epoch` marker could not be produced or was not readable at offset 0."""


class TopicCreationError(PermanentInfraError):
    """The broker refused to create a topic for a reason other than "already exists"."""


class LlmUnavailable(RetryableInfraError):
    """The LLM server did not answer usefully this time; the same request may succeed."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class LlmRequestRejected(PermanentInfraError):
    """The LLM server rejected the request (credentials, model name, schema)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FineTuneUnavailable(RetryableInfraError):
    """The fine-tuning or files API failed transiently (timeout, connection, 408/409/429, 5xx)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FineTuneRejected(PermanentInfraError):
    """The fine-tuning or files API refused the request itself (bad file, model, key, id)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
