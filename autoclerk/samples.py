"""The shipped sample: SROIE receipts as invoices and Synthea health claims,
turned into the events an upstream system would publish."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from feedback.datasets import load_labelled_jsonl, load_sroie
from schemas.document import LabelledDocument
from schemas.events import DocumentReceived, Envelope


def _metadata(doc: LabelledDocument) -> dict[str, str]:
    meta = {k: str(v) for k, v in doc.metadata.items()}
    if doc.document_id.startswith("sroie-"):
        # The upstream here is a receipt scanner: it says so, and receipt rules apply
        # (no invoice number is expected on a till receipt).
        meta.setdefault("subtype", "receipt")
    return meta


def received_event(doc: LabelledDocument, *, source: str = "sample") -> Envelope[DocumentReceived]:
    """As upstream would send it: OCR lines when boxes are known, else text."""
    has_layout = any(line.bbox is not None for line in doc.lines)
    payload = DocumentReceived(
        document_id=doc.document_id,
        kind=doc.kind,
        claim_type=doc.claim_type,
        text=None if has_layout else doc.text,
        ocr_lines=doc.lines if has_layout else None,
        pages=doc.pages if has_layout else [],
        metadata=_metadata(doc),
    )
    return Envelope[DocumentReceived](
        type="document.received", source=source, correlation_id=doc.document_id, payload=payload
    )


def sample_documents(*, data_dir: Path, limit: int | None = None) -> list[LabelledDocument]:
    """Receipts and claims interleaved, so a partial run still shows both kinds."""
    receipts = load_sroie(data_dir / "sroie" / "train.jsonl")
    claims_path = data_dir / "samples" / "claims.jsonl"
    claims = load_labelled_jsonl(claims_path) if claims_path.exists() else []
    mixed: Iterator[LabelledDocument] = (
        d for pair in itertools.zip_longest(receipts, claims) for d in pair if d is not None
    )
    docs = list(mixed)
    return docs[:limit] if limit is not None else docs
