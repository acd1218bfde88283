"""Errors of the review UI and API.

    ReviewError
    ├── NotAuthenticated      401: no session, a bad cookie or an unknown token
    ├── Forbidden             403: the role does not allow it (reconciling needs a lead), or a bad CSRF token
    ├── NotFound              404: no such task or document, or out of the caller's scopes (alike)
    ├── Conflict              409: permanent for this request; retrying will not help
    │   ├── NotLeased             the task is not leased by you (never, expired, or taken over)
    │   ├── AlreadySubmitted      the task already has a submission (duplicate or late completion)
    │   ├── TaskClosed            the worker already completed the task
    │   ├── SameReviewer          you already answered this task; its next review is someone else's
    │   └── NeedsTwoReviewers     bulk approve refused: the task needs two reviewers (review/second.py)
    ├── Invalid               422: a well-formed request the domain refuses (bad field, mixed reasons)
    │   └── InvalidValue          a corrected value that does not read as its field's shape (`field`)
    ├── UnsupportedMedia      415: a body of a content type the route does not take
    ├── RefusedEvent          400/413/422: an event the worker would dead-letter (`error_type`, `reason`)
    ├── Throttled             429: too many login attempts (per account or address); `retry_after` seconds
    └── PublishFailed         503: retryable; the broker did not take review.completed, nothing recorded

Each maps to one HTTP status in `review.app` and nowhere else.
"""

from __future__ import annotations


class ReviewError(Exception):
    status_code = 500


class NotAuthenticated(ReviewError):
    status_code = 401


class Forbidden(ReviewError):
    status_code = 403


class NotFound(ReviewError):
    status_code = 404


class Conflict(ReviewError):
    status_code = 409


class NotLeased(Conflict):
    pass


class AlreadySubmitted(Conflict):
    pass


class TaskClosed(Conflict):
    pass


class SameReviewer(Conflict):
    pass


class NeedsTwoReviewers(Conflict):
    pass


class Invalid(ReviewError):
    status_code = 422


class Throttled(ReviewError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class InvalidValue(Invalid):
    """A typed value that holds no valid value of its field's shape (a date that is not
    a date); `field` names it, so both edges can point at it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class PublishFailed(ReviewError):
    status_code = 503


class RefusedEvent(ReviewError):
    """An event the worker would dead-letter, refused before it is published, with the
    worker's own reason: `error_type` is the class the dead-letter path records
    (`UndecodableEvent`, `EventTooLarge`, ... of agents/errors.py) and `reason` its message.
    400 when the bytes are not JSON, 413 when over a size limit, 422 otherwise."""

    status_code = 422

    def __init__(self, *, error_type: str, reason: str, status_code: int = 422) -> None:
        super().__init__(f"{error_type}: {reason}")
        self.error_type = error_type
        self.reason = reason
        self.status_code = status_code


class UnsupportedMedia(ReviewError):
    status_code = 415
