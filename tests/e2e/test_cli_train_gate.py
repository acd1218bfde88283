"""`autoclerk train extractor --data FILE`: exported labels join the shipped training
split, and the promotion gate keeps a worse candidate from replacing the current model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.model_store import current
from agents.routing import MANDATORY
from autoclerk.cli import app as cli
from feedback.datasets import load_sroie, split_documents, write_labelled_jsonl
from feedback.export import corrections_against, labelled_from_review
from schemas.document import Document, LabelledDocument
from schemas.events import FieldCorrection
from schemas.feedback import ReviewedDocument
from schemas.fields import Extraction
from tests.support import DATA

pytestmark = pytest.mark.e2e


def _reviewed(doc: LabelledDocument, *, clear: bool) -> LabelledDocument:
    """As the export builds it. A careful reviewer fixes every field to the gold; a
    careless one (`clear`) empties every mandatory field."""
    extraction = Extraction(kind="invoice", model_version="test-model")
    if clear:
        fixes = [FieldCorrection(field=n, old_value=None, new_value=None) for n in MANDATORY["invoice"]]
    else:
        fixes = corrections_against(extraction=extraction, gold=doc.gold, fields=list(doc.gold))
    reviewed = ReviewedDocument(
        document=Document(**doc.model_dump(exclude={"gold", "split"})),
        extraction=extraction,
        corrections=fixes,
        task_id=f"t-{doc.document_id}",
        reviewer="careless" if clear else "careful",
        outcome="approve",
    )
    return labelled_from_review(reviewed=reviewed)


def test_train_with_exported_data_then_the_gate_refuses_a_worse_candidate(tmp_path: Path) -> None:
    receipts = (DATA / "sroie" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    data = tmp_path / "data"
    (data / "sroie").mkdir(parents=True)
    (data / "sroie" / "train.jsonl").write_text("\n".join(receipts[:60]) + "\n", encoding="utf-8")
    stream = load_sroie(DATA / "sroie" / "train.jsonl")[60:200]
    good = tmp_path / "good.jsonl"
    write_labelled_jsonl([_reviewed(d, clear=False) for d in stream[:40]], good)
    # the careless reviewer's labels are in the train split only: the test split stays true
    bad_train, bad_test = split_documents(stream[40:])
    bad = tmp_path / "bad.jsonl"
    write_labelled_jsonl([_reviewed(d, clear=True) for d in bad_train] + bad_test, bad)
    models = tmp_path / "models"
    env = {"AUTOCLERK_MODELS__DIR": str(models), "AUTOCLERK_DATA_DIR": str(data), "COLUMNS": "200"}
    runner = CliRunner()

    first = runner.invoke(cli, ["train", "extractor", "--data", str(good)], env=env)
    assert first.exit_code == 0, first.output
    assert "promoted: no usable current model" in first.output
    promoted = current(models, "extractor")
    assert promoted is not None
    shipped_train, _ = split_documents(load_sroie(data / "sroie" / "train.jsonl"))
    extra_train, _ = split_documents(stream[:40])
    meta = json.loads((promoted / "metadata.json").read_text())
    assert meta["documents"] == {"invoice": len(shipped_train) + len(extra_train)}

    second = runner.invoke(cli, ["train", "extractor", "--data", str(bad)], env=env)
    assert second.exit_code == 1, second.output
    assert "candidate" in second.output and "current" in second.output
    assert "NOT promoted: candidate is worse on document accuracy of mandatory fields" in second.output
    assert current(models, "extractor") == promoted  # CURRENT did not move
