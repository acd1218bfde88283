"""What each outgoing event carries, and where the rest of it is kept.

The service announces outcomes whose full record is in the database; when an event
must be cut to fit the size budget (`agents.budget`), these name the rows a consumer
reads instead (claim checks).
"""

from __future__ import annotations

import json

from agents.budget import Part
from schemas.document import content_hash
from schemas.events import Omission, ReviewRequested, StoredRecord
from schemas.messages import MessageMeta
from schemas.verdicts import RuleResult


def _row(table: str, **key: str | int) -> StoredRecord:
    return StoredRecord(table=table, key=key)


def decision_parts(*, document_id: str) -> list[Part]:
    # The decision row keeps every field and reason in full.
    decisions = _row("decisions", document_id=document_id)
    return [Part("fields", decisions, {}), Part("reasons", decisions, [])]


def correction_parts(*, document_id: str, task_id: str) -> list[Part]:
    return [Part("corrections", _row("corrections", document_id=document_id, task_id=task_id), [])]


def dead_letter_record(*, raw: bytes, meta: MessageMeta) -> StoredRecord:
    """The `dead_letters` row the service writes with the dead letter: it keeps the bytes."""
    digest = content_hash(raw)
    key: dict[str, str | int] = {
        "epoch": meta.epoch,
        "topic": meta.topic,
        "partition": meta.partition,
        "offset": meta.offset,
        "content_hash": digest,
    }
    return StoredRecord(table="dead_letters", key=key, size_bytes=len(raw), sha256=digest)


def review_summary(task: ReviewRequested) -> ReviewRequested:
    """The task as announced: the rules' outcome, reasons and version without the
    engine's trace, which repeats the inputs at every node and is stored in full."""
    if task.rules is None:
        return task
    trace = task.rules.trace
    left_out = Omission(
        path="rules.trace",
        action="left_out",
        size_bytes=len(json.dumps(trace).encode()),
        record=_row("rule_results", document_id=task.document_id),
    )
    summary = RuleResult(
        rules_version=task.rules.rules_version, outcome=task.rules.outcome, reasons=task.rules.reasons
    )
    return task.model_copy(update={"rules": summary, "omitted": [*task.omitted, left_out]})


def review_parts(task: ReviewRequested) -> list[Part]:
    # Least needed first: the review UI reads all of these from the database.
    return [
        Part("extraction", _row("extractions", document_id=task.document_id)),
        Part("triage", _row("triage_results", document_id=task.document_id)),
        Part("rules", _row("rule_results", document_id=task.document_id)),
        Part("reasons", _row("review_tasks", task_id=task.task_id), []),
    ]
