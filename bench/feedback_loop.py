"""The feedback loop, measured: does retraining on reviewers' corrections improve the model?

    .venv/bin/python -m bench.feedback_loop [--sroie PATH] [--seed-percent 30] [--rounds 4]
                                            [--threshold 0.9] [--no-oracle] [--json FILE]

SROIE receipts. The declared test split is the fixed evaluation set and is never
trained on. The train split is divided by a stable salted hash into a seed set (what
a first model is trained on) and a stream (documents arriving later, in batches).
Each round the current model reads the next batch; a document goes to review as the
service routes it (extraction failed, or a mandatory field missing or below the
routing threshold); simulated reviewers correct every field that is wrong, using the
gold label, and leave the right ones as they are (confirmed). Those reviews become
labelled documents through `feedback.export.labelled_from_review`, the function the
export runs on the real store, and the model is retrained on seed + all corrections so
far. Straight-through documents are not reviewed and so not trained on, as in
production. Round 0 (seed only) is the baseline; the oracle line trains on the whole
train split with gold labels, the ceiling if every stream document were reviewed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from threadpoolctl import threadpool_limits

from agents.extract import LocalExtractor
from agents.extract.train import train_local_extractor
from feedback.datasets import SHIPPED_SROIE, load_sroie, split_documents
from feedback.evaluation import evaluate
from feedback.export import corrections_against, labelled_from_review
from schemas.catalogue import MANDATORY
from schemas.document import Document, LabelledDocument
from schemas.feedback import ReviewedDocument
from schemas.fields import Extraction

SHARED_SROIE = Path("/work/shared/data/sroie/train.jsonl")
KIND = "invoice"


def in_seed(document_id: str, *, percent: int) -> bool:
    """Stable seed/stream assignment, independent of the train/test hash (salted)."""
    digest = hashlib.sha256(f"feedback-seed:{document_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 100 < percent


def stream_order(docs: Sequence[LabelledDocument]) -> list[LabelledDocument]:
    return sorted(docs, key=lambda d: hashlib.sha256(f"feedback-order:{d.document_id}".encode()).hexdigest())


def needs_review(extraction: Extraction, *, threshold: float) -> bool:
    """As the service routes on extraction alone: failure, or a mandatory field missing
    (the rules' mandatory-field check) or below the confidence threshold."""
    if extraction.failure:
        return True
    return any(
        extraction.value(n) is None or extraction.confidence(n) < threshold
        for n in MANDATORY[extraction.kind]
    )


def train(docs: Sequence[LabelledDocument], out: Path) -> LocalExtractor:
    return LocalExtractor.load(train_local_extractor(documents=docs, out_dir=out))


def predict(model: LocalExtractor, docs: Sequence[LabelledDocument]) -> dict[str, Extraction]:
    return {
        d.document_id: model.extract_sync(Document(**d.model_dump(exclude={"gold", "split"}))) for d in docs
    }


def review(doc: LabelledDocument, extraction: Extraction, *, round_no: int) -> tuple[LabelledDocument, int]:
    """A simulated reviewer: correct every known field that is wrong. Returns the
    labelled document (built as the export builds it) and how many fields changed."""
    fixes = corrections_against(extraction=extraction, gold=doc.gold, fields=list(doc.gold))
    reviewed = ReviewedDocument(
        document=Document(**doc.model_dump(exclude={"gold", "split"})),
        extraction=extraction,
        corrections=fixes,
        task_id=f"sim-{round_no}-{doc.document_id}",
        reviewer=f"simulated-{round_no}",
        outcome="approve",
    )
    return labelled_from_review(reviewed=reviewed), len(fixes)


def scores(model: LocalExtractor, test: Sequence[LabelledDocument]) -> dict[str, object]:
    preds = predict(model, test)
    every = evaluate(predictions=preds, gold=test, kind=KIND, target_error=0.01)
    mand = {
        t: evaluate(predictions=preds, gold=test, kind=KIND, target_error=t, fields=MANDATORY[KIND])
        for t in (0.01, 0.05)
    }
    return {
        "fields": {n: round(m.accuracy, 4) for n, m in every.fields.items()},
        "document_accuracy_all": round(every.document_accuracy, 4),
        "document_accuracy_mandatory": round(mand[0.01].document_accuracy, 4),
        "ece": round(every.ece, 4),
        "straight_through_1pct": round(mand[0.01].straight_through_rate, 4),
        "straight_through_5pct": round(mand[0.05].straight_through_rate, 4),
    }


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def print_round(row: dict[str, object], base: dict[str, object]) -> None:
    s, b = row["scores"], base["scores"]
    assert isinstance(s, dict) and isinstance(b, dict)
    fields = " ".join(f"{n}={v:.3f}" for n, v in s["fields"].items())
    print(
        f"{row['label']:<8} train={row['training_docs']:<4} reviewed={row['reviewed']:<4} "
        f"corrected_fields={row['corrected_fields']:<4} straight_through_unreviewed={row['unreviewed']:<4}"
        f"(wrong {row['unreviewed_wrong']})"
    )
    print(f"         per-field accuracy: {fields}")
    for key in (
        "document_accuracy_mandatory",
        "document_accuracy_all",
        "ece",
        "straight_through_1pct",
        "straight_through_5pct",
    ):
        v, v0 = float(s[key]), float(b[key])
        print(f"         {key:<28} {v:.4f}  (round 0 {v0:.4f}, delta {v - v0:+.4f}, ratio {_ratio(v, v0)})")


def run(args: argparse.Namespace) -> dict[str, object]:
    docs = [d for d in load_sroie(args.sroie) if d.kind == KIND]
    train_docs, test = split_documents(docs)
    seed = [d for d in train_docs if in_seed(d.document_id, percent=args.seed_percent)]
    stream = stream_order([d for d in train_docs if not in_seed(d.document_id, percent=args.seed_percent)])
    size = math.ceil(len(stream) / args.rounds)
    print(
        f"SROIE {args.sroie}: test {len(test)} (fixed), seed {len(seed)}, stream {len(stream)} in "
        f"{args.rounds} batches of {size}; routing threshold {args.threshold}"
    )
    out = Path(tempfile.mkdtemp(prefix="feedback-loop-"))
    corrected: list[LabelledDocument] = []
    started = time.perf_counter()
    model = train(seed, out)
    rows = [
        dict(
            label="round 0",
            training_docs=len(seed),
            reviewed=0,
            corrected_fields=0,
            unreviewed=0,
            unreviewed_wrong=0,
            scores=scores(model, test),
        )
    ]
    print_round(rows[0], rows[0])
    for r in range(1, args.rounds + 1):
        batch = stream[(r - 1) * size : r * size]
        preds = predict(model, batch)
        reviewed = fixed = unreviewed = unreviewed_wrong = 0
        for doc in batch:
            extraction = preds[doc.document_id]
            if needs_review(extraction, threshold=args.threshold):
                labelled, n = review(doc, extraction, round_no=r)
                corrected.append(labelled)
                reviewed, fixed = reviewed + 1, fixed + n
            else:  # straight through: nobody looks, nothing to learn from
                unreviewed += 1
                unreviewed_wrong += bool(
                    corrections_against(extraction=extraction, gold=doc.gold, fields=MANDATORY[KIND])
                )
        model = train(seed + corrected, out)
        rows.append(
            dict(
                label=f"round {r}",
                training_docs=len(seed) + len(corrected),
                reviewed=reviewed,
                corrected_fields=fixed,
                unreviewed=unreviewed,
                unreviewed_wrong=unreviewed_wrong,
                scores=scores(model, test),
            )
        )
        print_round(rows[-1], rows[0])
    result: dict[str, object] = {"rounds": rows}
    if args.oracle:
        oracle = train(train_docs, out)
        row = dict(
            label="oracle",
            training_docs=len(train_docs),
            reviewed=len(stream),
            corrected_fields=0,
            unreviewed=0,
            unreviewed_wrong=0,
            scores=scores(oracle, test),
        )
        print_round(row, rows[0])
        result["oracle"] = row
    print(f"total {time.perf_counter() - started:.0f}s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sroie", type=Path, default=SHARED_SROIE if SHARED_SROIE.exists() else SHIPPED_SROIE
    )
    parser.add_argument("--seed-percent", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threshold", type=float, default=0.9, help="routing confidence threshold")
    parser.add_argument("--oracle", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    # one OpenMP thread: on a small shared machine the pools oversubscribe (see autoclerk.cli)
    with threadpool_limits(limits=1, user_api="openmp"):
        result = run(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
