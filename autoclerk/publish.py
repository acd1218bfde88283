"""Publish documents from files: what an upstream system does, for ops and demos.

Accepted files: `.json` (one envelope, one `DocumentReceived` payload, or one of our
labelled documents), `.jsonl` (one of those per line) and `.pdf` (wrapped in a new
envelope). Each becomes exactly one `document.received` event keyed by document id.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from autoclerk.samples import received_event
from infra.kafka import make_producer
from schemas.document import LabelledDocument
from schemas.events import DocumentReceived, Envelope
from schemas.fields import DocumentKind
from schemas.ids import document_id_from


class PublishInputError(ValueError):
    """A file that cannot become an event; the message names the file and line."""


def _from_obj(obj: Any, *, where: str) -> Envelope[DocumentReceived]:
    if not isinstance(obj, dict):
        raise PublishInputError(f"{where}: expected a JSON object")
    try:
        if "payload" in obj and "type" in obj:
            return Envelope[DocumentReceived].model_validate(obj)
        if "lines" in obj:
            return received_event(LabelledDocument.model_validate(obj), source="publish")
        return Envelope[DocumentReceived](
            type="document.received", source="publish", payload=DocumentReceived.model_validate(obj)
        )
    except ValueError as exc:
        raise PublishInputError(f"{where}: {exc}") from exc


def events_from_files(
    paths: Iterable[Path], *, kind: DocumentKind = "invoice"
) -> Iterator[Envelope[DocumentReceived]]:
    for path in paths:
        if path.suffix.lower() == ".pdf":
            payload = DocumentReceived(
                document_id=document_id_from(path.stem),
                kind=kind,
                pdf_base64=base64.b64encode(path.read_bytes()).decode(),
                metadata={"filename": path.name},
            )
            yield Envelope[DocumentReceived](type="document.received", source="publish", payload=payload)
        elif path.suffix.lower() == ".jsonl":
            with path.open() as fh:
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        yield _from_obj(json.loads(line), where=f"{path}:{n}")
        elif path.suffix.lower() == ".json":
            yield _from_obj(json.loads(path.read_text()), where=str(path))
        else:
            raise PublishInputError(f"{path}: unsupported file type (use .json, .jsonl or .pdf)")


async def publish_events(*, bootstrap: str, topic: str, events: Iterable[Envelope[DocumentReceived]]) -> int:
    producer = make_producer(bootstrap=bootstrap, client_id="autoclerk-publish", linger_ms=10)
    await producer.start()
    sent = 0
    try:
        futures = []
        for env in events:
            futures.append(
                await producer.send(
                    topic, key=env.payload.document_id.encode(), value=env.model_dump_json().encode()
                )
            )
            sent += 1
        for f in futures:
            await f
    finally:
        await producer.stop()
    return sent
