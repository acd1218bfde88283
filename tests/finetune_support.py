"""Shared pieces of the fine-tuning tests: real SROIE receipts as training examples
(through the export's own `fine_tuning_record`) and as the labelled held-out file, and
the answers the local server gives for the base and the tuned model.

The server's "models" are scripted, not trained: the tuned model answers what the
reviewers labelled; the base model misreads the vendor name on every third receipt.
The side-by-side figures therefore measure the pipeline (scoring, pairing, cost and
token accounting, registration), not a real model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from feedback.datasets import load_sroie, write_labelled_jsonl
from feedback.finetune import fine_tuning_record
from schemas.catalogue import field_names
from schemas.document import LabelledDocument
from tests.llm_server import Reply

BASE = "gpt-4o-mini-2024-07-18"


def receipts(n: int) -> list[LabelledDocument]:
    """The first `n` shipped receipts, every invoice field labelled (unlabelled → null)."""
    out = []
    for doc in load_sroie()[:n]:
        gold: dict[str, str | None] = dict.fromkeys(field_names("invoice"))
        gold.update(doc.gold)
        out.append(doc.model_copy(update={"gold": gold}))
    return out


def write_training(path: Path, docs: list[LabelledDocument]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for doc in docs:
            fh.write(json.dumps(fine_tuning_record(doc), ensure_ascii=False) + "\n")
    return path


def write_eval(path: Path, docs: list[LabelledDocument]) -> Path:
    write_labelled_jsonl(docs, path)
    return path


def answers(docs: list[LabelledDocument]) -> Any:
    """The server's responder: gold for a tuned (`ft:`) model; the base model misreads
    the vendor on every third receipt."""
    by_lines = {tuple(line.text for line in d.lines): (i, d) for i, d in enumerate(docs)}

    def respond(body: dict[str, Any]) -> Reply:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        i, doc = by_lines[tuple(json.loads(user)["lines"])]
        fields = dict(doc.gold)
        if not body["model"].startswith("ft:") and i % 3 == 0:
            fields["vendor_name"] = "UNKNOWN VENDOR"
        return Reply(fields=fields)

    return respond
