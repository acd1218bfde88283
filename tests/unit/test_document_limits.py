"""Work limits per document: refused with the reason before any model runs, and the
refusals on the broker side of the edge that are permanent."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    CorruptRecordException,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordListTooLargeError,
)
from faust.exceptions import ProducerSendError

from agents.decode import DocumentLimits, parse_document
from agents.errors import DocumentTooLarge, InvalidEvent
from schemas.document import Line
from schemas.events import DocumentReceived
from streams.app import never_accepted

LIMITS = DocumentLimits(max_text_chars=1000, max_lines=20, max_line_chars=200)


def no_pdf(data: bytes) -> tuple[list[Line], list]:  # type: ignore[type-arg]
    raise AssertionError("not a PDF")


def parse(**content: object) -> None:
    received = DocumentReceived.model_validate({"document_id": "d", "kind": "invoice", **content})
    parse_document(received, parse_pdf=no_pdf, limits=LIMITS)


def test_within_the_limits_parses() -> None:
    parse(text="total: 1.00\n" * 20)
    parse(text="t" * 200 + "\n\n\n")  # blank lines are not counted


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"text": "x\n" * 21}, "document has 21 lines, limit 20"),
        ({"text": ("y" * 100 + "\n") * 11}, "document has 1100 characters of text, limit 1000"),
        ({"text": "z" * 201}, "document has a line of 201 characters, limit 200"),
        ({"ocr_lines": [{"text": "ocr"}] * 21}, "document has 21 lines, limit 20"),
        ({"ocr_lines": [{"text": "o" * 300}]}, "a line of 300 characters"),
    ],
)
def test_over_a_limit_is_refused_with_the_reason(content: dict[str, object], reason: str) -> None:
    with pytest.raises(DocumentTooLarge, match=reason) as caught:
        parse(**content)
    assert isinstance(caught.value, InvalidEvent)  # dead-lettered, never retried


@pytest.mark.parametrize(
    "error",
    [
        MessageSizeTooLargeError("over max_request_size"),
        RecordListTooLargeError(),
        CorruptRecordException(),
    ],
)
def test_refusals_that_repeat_forever_are_permanent(error: Exception) -> None:
    assert never_accepted(error)
    try:  # faust wraps what the producer raises
        raise ProducerSendError(f"Error while sending: {error!r}") from error
    except ProducerSendError as wrapped:
        assert never_accepted(wrapped)


@pytest.mark.parametrize("error", [KafkaTimeoutError(), NotLeaderForPartitionError(), OSError("reset")])
def test_transient_failures_are_not(error: Exception) -> None:
    assert not never_accepted(error)
