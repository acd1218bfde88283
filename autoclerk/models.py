"""Trained artifacts on disk: `<models.dir>/<name>/<version>/` plus a `CURRENT` pointer.

A fresh machine has none, so `ensure_models` trains them from the shipped labelled
data (training split only) before the first run. Retraining writes a new version
and moves the pointer; the previous version stays for rollback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from feedback.datasets import load_labelled_jsonl, load_sroie, split_documents
from feedback.export import merge_documents
from schemas.document import LabelledDocument

Trainer = Callable[..., Path]


def current(models_dir: Path, name: str) -> Path | None:
    pointer = models_dir / name / "CURRENT"
    if not pointer.is_file():
        return None
    path = models_dir / name / pointer.read_text().strip()
    return path if path.is_dir() else None


def promote(models_dir: Path, name: str, artifact: Path) -> None:
    pointer = models_dir / name / "CURRENT"
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(artifact.name + "\n")
    tmp.replace(pointer)  # atomic: a reader sees the old or the new version, never half


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


def train_and_promote(
    *, models_dir: Path, name: str, trainer: Trainer, documents: Sequence[LabelledDocument]
) -> Path:
    out = models_dir / name
    out.mkdir(parents=True, exist_ok=True)
    artifact = trainer(documents=documents, out_dir=out)
    promote(models_dir, name, artifact)
    return artifact
