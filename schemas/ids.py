"""Identifiers that arrive from outside: what a document id and a review queue name may be.

A document id ends up in URLs (the review UI's page images and audit trail), in
Kafka keys and in log lines. An id such as `spoof/../other` would turn a page-image
URL into another document's, so ids are restricted at ingest and a document whose id
breaks the rule is dead-lettered with the reason (`DocumentReceived.document_id`).
The review UI still percent-encodes every id it puts into a URL, for rows stored
before this rule.

    document id   1-128 characters: ASCII letters, digits and . _ : - , starting with
                  a letter or digit, never containing '..'
    queue name    1-64 characters: lower-case letters, digits, _ and -, starting with
                  a letter or digit
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

DOCUMENT_ID_MAX = 128
_DOCUMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._:-]")
_QUEUE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_document_id(value: str) -> str:
    """`value` if it is a valid document id; ValueError saying why otherwise."""
    if not value:
        raise ValueError("document_id is empty")
    if len(value) > DOCUMENT_ID_MAX:
        raise ValueError(f"document_id has {len(value)} characters; at most {DOCUMENT_ID_MAX}")
    bad = _NOT_ALLOWED.search(value)
    if bad:
        raise ValueError(
            f"document_id has the character {bad.group()!r} at {bad.start()}; "
            "only ASCII letters, digits and . _ : - are allowed"
        )
    if not _DOCUMENT_ID.fullmatch(value):
        raise ValueError("document_id must start with a letter or digit")
    if ".." in value:
        raise ValueError("document_id must not contain '..'")
    return value


def check_queue_name(value: str) -> str:
    if not _QUEUE.fullmatch(value):
        raise ValueError("queue name: 1-64 of a-z 0-9 _ -, starting with a letter or digit")
    return value


DocumentId = Annotated[str, AfterValidator(check_document_id)]
QueueName = Annotated[str, AfterValidator(check_queue_name)]


def document_id_from(name: str) -> str:
    """A valid document id made from a file name (spaces and other characters become
    '-'), for `autoclerk publish` of PDF files."""
    cleaned = _NOT_ALLOWED.sub("-", name).replace("..", ".").lstrip("._:-")[:DOCUMENT_ID_MAX]
    return check_document_id(cleaned or "document")
