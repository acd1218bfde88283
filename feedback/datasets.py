"""Labelled documents for training and evaluation, with declared splits.

Two sources yield the same `LabelledDocument`:

- SROIE receipts (`load_sroie`): OCR lines with boxes, gold company/date/address/total,
  mapped to invoice fields and normalised with the extractor's own normalisers.
- our labelled JSONL (`load_labelled_jsonl`): one `LabelledDocument.model_dump_json()`
  a line, as written by sample generators and by exports of reviewer corrections.

Splits are declared, not drawn: `declared_split` hashes the document id, so a
document lands in the same split on every machine and every run, and a model
evaluated on "test" never saw those documents in training.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from feedback.errors import DatasetError, DatasetRecordError
from schemas.document import LabelledDocument, Line, PageSize
from schemas.values import normalize

Split = Literal["train", "test"]

# SROIE entity -> our invoice field
SROIE_FIELDS: dict[str, str] = {
    "company": "vendor_name",
    "date": "issue_date",
    "address": "vendor_address",
    "total": "total",
}

SHIPPED_SROIE = Path(__file__).resolve().parent.parent / "data" / "sroie" / "train.jsonl"


def declared_split(document_id: str, *, test_percent: int = 20) -> Split:
    """Stable train/test assignment from a hash of the document id."""
    bucket = int(hashlib.sha256(document_id.encode()).hexdigest()[:8], 16) % 100
    return "test" if bucket < test_percent else "train"


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    if not path.is_file():
        raise DatasetError(f"no dataset at {path}")
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DatasetRecordError(path=str(path), line=number, reason=str(exc)) from exc
            if not isinstance(record, dict):
                raise DatasetRecordError(path=str(path), line=number, reason="not an object")
            yield number, record


def sroie_document(record: dict[str, object]) -> LabelledDocument:
    """One SROIE record as a labelled invoice document (gold values normalised)."""
    words = record["words"]
    boxes = record.get("bboxes") or [None] * len(words)  # type: ignore[arg-type]
    size = record.get("image_size") or {}
    entities = record.get("entities") or {}
    assert isinstance(words, list) and isinstance(boxes, list)
    assert isinstance(size, dict) and isinstance(entities, dict)
    lines = [
        Line(text=str(text), bbox=tuple(float(v) for v in box) if box else None)  # type: ignore[arg-type]
        for text, box in zip(words, boxes, strict=True)
    ]
    pages = [PageSize(width=float(size["width"]), height=float(size["height"]))] if size else []
    document_id = f"sroie-{record['key']}"
    gold = {ours: normalize(ours, entities.get(theirs) or None) for theirs, ours in SROIE_FIELDS.items()}
    return LabelledDocument(
        document_id=document_id,
        kind="invoice",
        lines=lines,
        pages=pages,
        metadata={"source": "sroie", "file_name": str(record.get("file_name", ""))},
        gold=gold,
        split=declared_split(document_id),
    )


def load_sroie(path: Path = SHIPPED_SROIE) -> list[LabelledDocument]:
    """All SROIE receipts in `path` (the shipped copy by default)."""
    docs = []
    for number, record in _read_jsonl(path):
        try:
            docs.append(sroie_document(record))
        except (KeyError, TypeError, ValueError, AssertionError) as exc:
            raise DatasetRecordError(path=str(path), line=number, reason=repr(exc)) from exc
    return docs


def load_labelled_jsonl(path: Path) -> list[LabelledDocument]:
    """Our own labelled JSONL; a record without a split gets its declared one."""
    docs = []
    for number, record in _read_jsonl(path):
        try:
            doc = LabelledDocument.model_validate(record)
        except ValidationError as exc:
            raise DatasetRecordError(path=str(path), line=number, reason=str(exc)) from exc
        if doc.split is None:
            doc = doc.model_copy(update={"split": declared_split(doc.document_id)})
        docs.append(doc)
    return docs


def write_labelled_jsonl(documents: Iterable[LabelledDocument], path: Path) -> int:
    """Write documents in our labelled JSONL format; returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for doc in documents:
            fh.write(doc.model_dump_json() + "\n")
            count += 1
    return count


def split_documents(
    documents: Sequence[LabelledDocument],
) -> tuple[list[LabelledDocument], list[LabelledDocument]]:
    """(train, test) by each document's declared split."""
    train = [d for d in documents if (d.split or declared_split(d.document_id)) != "test"]
    test = [d for d in documents if (d.split or declared_split(d.document_id)) == "test"]
    return train, test


def dataset_hash(documents: Sequence[LabelledDocument]) -> str:
    """Content hash of a training set, recorded in model metadata for lineage."""
    h = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.document_id):
        h.update(doc.model_dump_json().encode())
    return h.hexdigest()
