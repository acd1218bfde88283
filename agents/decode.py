"""Turn raw bytes into validated events and parsed documents, or say exactly why not."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agents.errors import (
    DocumentTooLarge,
    EmptyDocument,
    EventTooLarge,
    UndecodableEvent,
    UnreadableDocument,
    UnsupportedVersion,
)
from schemas.document import Document, Line, PageSize
from schemas.events import SUPPORTED_SCHEMA_VERSIONS, DocumentReceived, Envelope

P = TypeVar("P", bound=BaseModel)

PdfParser = Callable[[bytes], tuple[list[Line], list[PageSize]]]
"""bytes → lines and page sizes; raises on unreadable input (the adapter enforces its
own page limit)."""


@dataclass(frozen=True)
class DocumentLimits:
    """How much text one document may bring, checked before any model runs.

    Extraction looks at every candidate span with its line's context, so its work grows
    with the number of lines and with the square of a line's length; a 4 MB text once
    took minutes and gigabytes. The shipped documents have at most 153 lines of at
    most 201 characters (2,200 in all); the defaults leave a wide margin.
    """

    max_text_chars: int = 300_000
    max_lines: int = 2_000
    max_line_chars: int = 10_000


DEFAULT_LIMITS = DocumentLimits()


def _summary(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "event"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def decode_envelope(raw: bytes, *, payload: type[P], event_type: str, max_bytes: int) -> Envelope[P]:
    if len(raw) > max_bytes:
        raise EventTooLarge(f"event of {len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UndecodableEvent(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise UndecodableEvent("JSON nested too deeply") from exc
    _check_text(raw, data)
    if not isinstance(data, dict):
        raise UndecodableEvent(f"expected a JSON object, got {type(data).__name__}")
    version = data.get("schema_version", 1)
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_SCHEMA_VERSIONS))
        raise UnsupportedVersion(f"unsupported schema_version {version!r} (supported: {supported})")
    if data.get("type") != event_type:
        raise UndecodableEvent(f"expected event type {event_type!r}, got {data.get('type')!r}")
    try:
        return Envelope[payload].model_validate(data)  # type: ignore[valid-type]
    except ValidationError as exc:
        raise UndecodableEvent(f"invalid {event_type} event: {_summary(exc)}") from exc


# JSON can spell what Unicode text cannot hold: an unpaired surrogate (\ud800) or
# NUL (\u0000). Both break storage later (UTF-8 encoding, PostgreSQL text), so
# they are refused here with the reason. Only escapes can produce them, so the
# bytes are searched first and the full walk runs only when one appears.
_SUSPECT = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")


def _check_text(raw: bytes, data: Any) -> None:
    if _SUSPECT.search(raw) is None:
        return
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise UndecodableEvent("text contains NUL (U+0000) characters")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                where = f"unpaired surrogate at {exc.start}"
                raise UndecodableEvent(f"text is not valid Unicode: {where}") from exc


def check_limits(texts: Sequence[str], limits: DocumentLimits) -> None:
    """Raise `DocumentTooLarge` when the text lines exceed a limit; says which and by how much."""
    if len(texts) > limits.max_lines:
        raise DocumentTooLarge(f"document has {len(texts)} lines, limit {limits.max_lines}")
    total = sum(map(len, texts))
    if total > limits.max_text_chars:
        raise DocumentTooLarge(f"document has {total} characters of text, limit {limits.max_text_chars}")
    longest = max(map(len, texts), default=0)
    if longest > limits.max_line_chars:
        raise DocumentTooLarge(f"document has a line of {longest} characters, limit {limits.max_line_chars}")


def parse_document(
    received: DocumentReceived, *, parse_pdf: PdfParser, limits: DocumentLimits = DEFAULT_LIMITS
) -> Document:
    common = {
        "document_id": received.document_id,
        "kind": received.kind,
        "claim_type": received.claim_type,
        "metadata": received.metadata,
    }
    if received.text is not None:
        # Checked on the raw rows first, so an oversized text never becomes line objects.
        check_limits([t for t in received.text.splitlines() if t.strip()], limits)
        doc = Document.from_text(text=received.text, **common)  # type: ignore[arg-type]
    elif received.ocr_lines is not None:
        doc = Document(lines=received.ocr_lines, pages=received.pages, **common)  # type: ignore[arg-type]
    else:
        try:
            data = base64.b64decode(received.pdf_base64 or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UnreadableDocument(f"pdf_base64 is not valid base64: {exc}") from exc
        try:
            lines, pages = parse_pdf(data)
        except Exception as exc:  # the parser's own error tree is infra's; any failure is bad input
            raise UnreadableDocument(f"PDF could not be parsed: {exc}") from exc
        doc = Document(lines=lines, pages=pages, **common)  # type: ignore[arg-type]
    if not any(line.text.strip() for line in doc.lines):
        raise EmptyDocument("document has no text")
    check_limits([line.text for line in doc.lines], limits)
    return doc
