"""Errors raised by the feedback package.

    FeedbackError
    ├── DatasetError            permanent: a dataset file is missing or malformed
    │   └── DatasetRecordError  permanent: one record cannot be read (carries line number)
    ├── EvaluationError         permanent: predictions and gold do not line up
    └── ExportError             permanent: a stored review cannot become a labelled document

Nothing here is retryable: every failure is in the data or the caller, and running
the same call again gives the same answer.
"""

from __future__ import annotations


class FeedbackError(Exception):
    """Base of every error raised by `feedback`."""


class DatasetError(FeedbackError):
    """A dataset cannot be used as given."""


class DatasetRecordError(DatasetError):
    """One record of a dataset file is malformed."""

    def __init__(self, *, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class EvaluationError(FeedbackError):
    """Predictions and gold cannot be compared (missing documents, kind mismatch)."""


class ExportError(FeedbackError):
    """A stored review is inconsistent (e.g. its extraction is of another kind)."""
