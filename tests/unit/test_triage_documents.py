"""`autoclerk train triage`'s documents: exported labels and out-of-fold exception labels."""

from __future__ import annotations

from pathlib import Path

from feedback.corpus import all_documents
from feedback.datasets import SHIPPED_SROIE, declared_split, write_labelled_jsonl
from feedback.routing_cv import _save, predictions_key
from feedback.triage_data import triage_documents
from schemas.document import LabelledDocument, Line
from schemas.fields import ExtractedField, Extraction


def _data_dir(tmp_path: Path, receipts: int = 12) -> Path:
    data = tmp_path / "data"
    (data / "sroie").mkdir(parents=True)
    lines = SHIPPED_SROIE.read_text(encoding="utf-8").splitlines()[:receipts]
    (data / "sroie" / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data


def _train_split_id(prefix: str) -> str:
    return next(f"{prefix}-{i}" for i in range(100) if declared_split(f"{prefix}-{i}") == "train")


def test_exported_review_labels_reach_the_training_documents(tmp_path: Path) -> None:
    doc_id = _train_split_id("reviewed")
    reviewed = LabelledDocument(
        document_id=doc_id, kind="invoice", lines=[Line(text="ACME")], gold={"vendor_name": "ACME"},
        metadata={"needs_review": "true", "needs_review_source": "review"},
    )  # fmt: skip
    export = tmp_path / "export.jsonl"
    write_labelled_jsonl([reviewed], export)
    docs = triage_documents(
        data_dir=_data_dir(tmp_path),
        models_dir=tmp_path / "models",
        extra=[export],
        exceptions_cv=0,
        log=print,
    )
    by_id = {d.document_id: d for d in docs}
    assert by_id[doc_id].metadata["needs_review"] == "true"
    assert all(d.split == "train" for d in docs)
    assert sum("needs_review" in d.metadata for d in docs) == 1  # shipped documents carry no label


def test_out_of_fold_predictions_label_the_shipped_documents(tmp_path: Path) -> None:
    data, models = _data_dir(tmp_path), tmp_path / "models"
    docs = all_documents(data_dir=data, extra=[])
    # Out-of-fold predictions as `routing fit --cv 2` leaves them: every document right
    # but one whose total is wrong. Seeding the cache stands in for two fold trainings.
    wrong = next(d for d in docs if d.split == "train").document_id
    predictions = {
        d.document_id: Extraction(
            kind="invoice",
            model_version="fold",
            fields={
                name: ExtractedField(
                    value="0.01" if d.document_id == wrong and name == "total" else value, confidence=0.9
                )
                for name, value in d.gold.items()
            },
        )
        for d in docs
    }
    key = predictions_key(documents=docs, folds=2, seed=0, grouping="document")
    _save(predictions, models / "routing" / "oof" / f"oof-{key}.jsonl")
    logged: list[str] = []
    out = triage_documents(data_dir=data, models_dir=models, extra=[], exceptions_cv=2, log=logged.append)
    labels = {d.document_id: d.metadata["needs_review"] for d in out}
    assert labels[wrong] == "true"
    assert [v for k, v in labels.items() if k != wrong] == ["false"] * (len(labels) - 1)
    assert any("reusing" in line for line in logged)
