"""What the worker will accept, checked before anything is published for it.

HTTP ingest (`POST /api/documents`) and a dead-letter retry with a fixed payload run the
worker's own decoder and document checks (`agents.decode`: envelope, schema version,
size, text, PDF) on the exact bytes they are about to publish. A refusal is a
`RefusedEvent` with the reason the dead-letter path would record, and nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from pydantic import BaseModel

from agents.decode import DocumentLimits, PdfParser, decode_envelope, parse_document
from agents.errors import DocumentTooLarge, EventTooLarge, InvalidEvent
from infra.pdf import parse_pdf
from infra.settings import Settings
from review.errors import RefusedEvent
from schemas.document import Line, PageSize
from schemas.events import DocumentReceived, Envelope, ReviewCompleted
from schemas.messages import Topics

_TOO_LARGE = (EventTooLarge, DocumentTooLarge)


@dataclass(frozen=True)
class Inbound:
    topics: Topics
    max_event_bytes: int
    limits: DocumentLimits
    parse_pdf: PdfParser

    @classmethod
    def from_settings(cls, settings: Settings) -> Inbound:
        lim = settings.limits
        return cls(
            topics=Topics.with_prefix(settings.kafka.topic_prefix),
            max_event_bytes=settings.kafka.max_event_bytes,
            limits=DocumentLimits(
                max_text_chars=lim.max_text_chars, max_lines=lim.max_lines, max_line_chars=lim.max_line_chars
            ),
            parse_pdf=partial(_parse, max_pages=lim.max_pdf_pages, max_area=lim.max_pdf_page_area),
        )

    def received(self, raw: bytes) -> Envelope[DocumentReceived]:
        """The `document.received` event in `raw`, as the worker would admit it."""
        try:
            env = decode_envelope(
                raw, payload=DocumentReceived, event_type="document.received", max_bytes=self.max_event_bytes
            )
            parse_document(env.payload, parse_pdf=self.parse_pdf, limits=self.limits)
        except InvalidEvent as exc:
            raise refused(exc) from exc
        return env

    def check(self, raw: bytes, *, topic: str) -> Envelope[BaseModel] | None:
        """`raw` checked as the consumer of `topic` checks it; None for a topic no
        worker decodes (its bytes are then sent as they are)."""
        if topic == self.topics.received:
            return self.received(raw)  # type: ignore[return-value]
        if topic == self.topics.review_completed:
            try:
                return decode_envelope(  # type: ignore[return-value]
                    raw,
                    payload=ReviewCompleted,
                    event_type="review.completed",
                    max_bytes=self.max_event_bytes,
                )
            except InvalidEvent as exc:
                raise refused(exc) from exc
        return None


def refused(exc: InvalidEvent) -> RefusedEvent:
    status = 413 if isinstance(exc, _TOO_LARGE) else 400 if str(exc).startswith("not valid JSON") else 422
    return RefusedEvent(error_type=type(exc).__name__, reason=str(exc), status_code=status)


def _parse(data: bytes, *, max_pages: int, max_area: float) -> tuple[list[Line], list[PageSize]]:
    return parse_pdf(data=data, max_pages=max_pages, max_page_area=max_area)
