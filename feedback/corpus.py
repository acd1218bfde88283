"""The labelled documents models train and are scored on: the shipped data (SROIE
receipts and generated claims, both splits) with labelled JSONL files merged over it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from feedback.datasets import load_labelled_jsonl, load_sroie, split_documents
from feedback.export import merge_documents
from schemas.document import LabelledDocument


def labelled_documents(data_dir: Path) -> list[LabelledDocument]:
    """Every shipped labelled document, both splits."""
    docs = load_sroie(data_dir / "sroie" / "train.jsonl")
    claims = data_dir / "samples" / "claims.jsonl"
    if claims.exists():
        docs += load_labelled_jsonl(claims)
    return docs


def all_documents(
    *,
    data_dir: Path,
    extra: Sequence[Path] = (),
    shipped: bool = True,
    log: Callable[[str], object] | None = None,
) -> list[LabelledDocument]:
    """Shipped labelled documents (both splits; none when `shipped` is off) with each
    `extra` JSONL merged over them: a later record with a known id replaces it (a
    reviewer's label of a shipped document is the newer word)."""
    docs = labelled_documents(data_dir) if shipped else []
    for path in extra:
        added = load_labelled_jsonl(path)
        if log is not None:
            known = {d.document_id for d in docs}
            replaced = sum(d.document_id in known for d in added)
            note = f", {replaced} replacing documents with the same id" if replaced else ""
            log(f"{path}: {len(added)} labelled documents{note}")
        docs = merge_documents(docs, added)
    return docs


def training_documents(data_dir: Path) -> list[LabelledDocument]:
    """The shipped labelled documents' training split (the test split is for eval)."""
    train, _ = split_documents(labelled_documents(data_dir))
    return train
