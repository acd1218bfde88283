"""Errors raised by the feedback package.

    FeedbackError
    ├── DatasetError            permanent: a dataset file is missing or malformed
    │   └── DatasetRecordError  permanent: one record cannot be read (carries line number)
    ├── EvaluationError         permanent: predictions and gold do not line up
    ├── ExportError             permanent: a stored review cannot become a labelled document
    ├── TrainingFileError       permanent: a fine-tuning file breaks the API's format rules
    │                           (carries line number and reason; raised before any upload)
    └── FineTuneError           a fine-tuning job cannot go on
        ├── FineTuneApiUnavailable  transient: the provider kept failing (429, 5xx, timeout)
        │                           past the retry budget; the job row is kept, resume later
        ├── FineTuneJobFailed   permanent: the provider says failed or cancelled (nothing registered)
        └── JobNotFound         permanent: no such job in our table

Only `FineTuneApiUnavailable` is retryable (run `finetune status --wait` again later);
every other failure is in the data or the caller, and running the same call again
gives the same answer.
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


class TrainingFileError(FeedbackError):
    """A fine-tuning file the provider would refuse (or that would train the wrong thing)."""

    def __init__(self, *, path: str, line: int | None, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class FineTuneError(FeedbackError):
    """A fine-tuning job cannot go on."""


class FineTuneApiUnavailable(FineTuneError):
    """The provider kept failing transiently past our retries; the job row is intact."""


class FineTuneJobFailed(FineTuneError):
    """The provider ended the job without a model (failed or cancelled)."""


class JobNotFound(FineTuneError):
    """No job with that id in `finetune_jobs`."""
