"""Dataset loaders: SROIE mapping, declared splits, our JSONL round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedback.datasets import (
    declared_split,
    load_labelled_jsonl,
    load_sroie,
    split_documents,
    sroie_document,
    write_labelled_jsonl,
)
from feedback.errors import DatasetError, DatasetRecordError

RECORD = {
    "key": "X1",
    "file_name": "X1.jpg",
    "image_size": {"width": 400, "height": 600},
    "entities": {
        "company": "ABC HO TRADING",
        "date": "09/01/2019",
        "address": "NO 2, JALAN X",
        "total": "RM 31.00",
    },
    "words": ["ABC HO TRADING", "TOTAL :", "31.00"],
    "bboxes": [[10, 20, 200, 40], [10, 100, 80, 120], [300, 100, 360, 120]],
}


def test_sroie_record_maps_to_normalised_invoice_gold() -> None:
    doc = sroie_document(RECORD)
    assert doc.document_id == "sroie-X1"
    assert doc.gold == {
        "vendor_name": "ABC HO TRADING",
        "issue_date": "2019-01-09",
        "vendor_address": "NO 2 JALAN X",
        "total": "31.00",
    }
    assert doc.lines[2].bbox == (300.0, 100.0, 360.0, 120.0)
    assert doc.pages[0].height == 600.0
    assert doc.split == declared_split("sroie-X1")


def test_declared_split_is_stable_and_roughly_80_20() -> None:
    docs = load_sroie()
    train, test = split_documents(docs)
    assert len(train) + len(test) == len(docs) == 626
    assert 0.15 < len(test) / len(docs) < 0.25
    assert [declared_split(d.document_id) for d in test] == ["test"] * len(test)


def test_labelled_jsonl_round_trip(tmp_path: Path) -> None:
    docs = load_sroie()[:3]
    path = tmp_path / "docs.jsonl"
    assert write_labelled_jsonl(docs, path) == 3
    assert load_labelled_jsonl(path) == docs


def test_malformed_files_raise_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError):
        load_labelled_jsonl(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"document_id": "x"}) + "\n")
    with pytest.raises(DatasetRecordError) as info:
        load_labelled_jsonl(bad)
    assert info.value.line == 1
