"""What a reader of the shipped SROIE OCR can possibly get right (issue 3's limits).

    .venv/bin/python -m bench.sroie_ceiling [--path data/sroie/train.jsonl]

An extractor reads the OCR text; a gold value that does not occur in that text (after
dropping whitespace and case, as the metric does) cannot be produced by reading, only
by remembering the vendor from training data. Prints, per SROIE field, how many gold
values occur in the text as one run and how many have every token somewhere in it, and
how many receipts carry at least one unreadable gold value among company/date/total:
a floor on any reader's document error over those three fields, which also bounds the
straight-through rate at a 1 % error target unless the unreadable receipts happen to
get low confidence. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from feedback.datasets import SHIPPED_SROIE

FIELDS = ("company", "date", "address", "total")
ROUTED = ("company", "date", "total")  # the fields routing requires for a receipt


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text.upper())


def _tokens(text: str) -> list[str]:
    return re.findall(r"[A-Z0-9]+", text.upper())


def ceiling(records: list[dict[str, Any]]) -> dict[str, Any]:
    per_field = {f: {"labelled": 0, "in_text": 0, "tokens_in_text": 0} for f in FIELDS}
    unreadable_docs = 0
    for rec in records:
        words = rec["words"]
        text = {_squash(" ".join(words)), _squash("".join(words))}
        vocab = set(_tokens(" ".join(words)))
        unreadable = False
        for name in FIELDS:
            gold = rec["entities"].get(name) or ""
            stats = per_field[name]
            if not gold.strip():
                unreadable |= name in ROUTED
                continue
            stats["labelled"] += 1
            present = any(_squash(gold) in t for t in text)
            stats["in_text"] += present
            stats["tokens_in_text"] += all(t in vocab for t in _tokens(gold))
            unreadable |= name in ROUTED and not present
        unreadable_docs += unreadable
    n = len(records)
    return {
        "receipts": n,
        "fields": {f: {**s, "in_text_rate": round(s["in_text"] / n, 3)} for f, s in per_field.items()},
        "receipts_with_unreadable_company_date_or_total": unreadable_docs,
        "reader_document_error_floor": round(unreadable_docs / n, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", type=Path, default=SHIPPED_SROIE)
    args = parser.parse_args()
    with args.path.open(encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    print(json.dumps(ceiling(records), indent=2))


if __name__ == "__main__":
    main()
