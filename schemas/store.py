"""Data the service layer and its store exchange (the `agents.ports.DocumentStore` port).

Kept in `schemas/` because both sides need them and `infra/` may not import
`agents/`: the SQL store returns these, the fake in `tests/fakes.py` returns these,
and the service reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from schemas.messages import Outgoing

AdmissionStatus = Literal["new", "resume", "done", "duplicate", "conflict"]


@dataclass(frozen=True)
class Admission:
    """What the store knows about an incoming document before we work on it.

    - new: first time; run the workflow.
    - resume: admitted before, no outcome stored yet (a crash mid-workflow); run it again.
    - done: these bytes were handled already; re-announce `pending`.
    - duplicate: the same document arrived again (new offset or event); re-announce.
    - conflict: the id is known with other content, or the event id with another
      document; the service dead-letters it with `detail` as the reason.
    """

    status: AdmissionStatus
    detail: str = ""
    pending: list[Outgoing] = field(default_factory=list)


@dataclass(frozen=True)
class ReviewTaskRecord:
    """What the worker reads back of a stored review task to resume its workflow."""

    task_id: str
    document_id: str
    status: str
    created_at: datetime
    thread_id: str | None = None
    """The workflow thread waiting for the answer; None means the document id."""
