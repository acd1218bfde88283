"""Rules throughput: our evaluator vs bare zen-engine on the same inputs.

    .venv/bin/python -m bench.rules [--n 2000]

Run as a module: a script named rules.py would shadow the `rules` package.

"ours" includes building the engine input (number/date parsing, ICD-10-CM lookups),
evaluating every graph for the kind, and assembling the RuleResult; "bare" feeds the
already-built inputs straight to `ZenEngine.evaluate` graph by graph. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zen

from rules.evaluator import ZenRulesEvaluator, graph_files
from schemas.document import Document
from schemas.fields import ExtractedField, Extraction, LineItem
from schemas.verdicts import ReferenceFacts, TriageResult

GRAPHS = Path(__file__).resolve().parent.parent / "rules" / "graphs"
NOW = datetime(2024, 6, 30, tzinfo=UTC)
Case = tuple[Document, Extraction, TriageResult, ReferenceFacts]


def _f(value: str | None) -> ExtractedField:
    return ExtractedField(value=value, confidence=0.9)


def invoice(i: int, rng: random.Random) -> Case:
    total = rng.randint(10, 20000)
    fields = {
        "vendor_name": "ACME GmbH",
        "invoice_number": f"INV-{i}",
        "issue_date": "2024-06-01",
        "due_date": rng.choice(["2024-07-01", "2024-05-01"]),
        "currency": rng.choice(["EUR", "XAU"]),
        "subtotal": f"{total * 0.8:.2f}",
        "tax": f"{total * 0.2:.2f}",
        "total": f"{total:.2f}",
    }
    ext = Extraction(
        kind="invoice",
        fields={k: _f(v) for k, v in fields.items()},
        line_items=[LineItem(amount=_f(f"{total:.2f}"))],
        model_version="bench",
    )
    doc = Document.from_text(document_id=f"i{i}", kind="invoice", text="Invoice\nTotal")
    ref = ReferenceFacts(duplicate_of="x" if i % 10 == 1 else None)
    return doc, ext, TriageResult(model_version="t", predicted_kind="invoice", risk=0.1), ref


def claim(i: int, rng: random.Random) -> Case:
    codes = rng.choice(["E11.9,I10", "E11", "J06.9"])
    fields = {"policy_number": "P-1", "incident_date": "2024-05-01", "diagnosis_codes": codes,
              "claimed_amount": str(rng.randint(100, 20000))}  # fmt: skip
    ext = Extraction(kind="claim", fields={k: _f(v) for k, v in fields.items()}, model_version="b")
    doc = Document.from_text(document_id=f"c{i}", kind="claim", claim_type="health", text="Claim\nDiagnosis")
    policy = {
        "active_from": "2024-01-01",
        "active_to": "2024-12-31",
        "coverage_limit": 10000,
        "deductible": 250,
    }
    tri = TriageResult(model_version="t", predicted_kind="claim:health", risk=0.2)
    return doc, ext, tri, ReferenceFacts(policy=policy)


def rate(n: int, fn: Callable[[], object]) -> float:
    fn()
    start = time.perf_counter()
    fn()
    return round(n / (time.perf_counter() - start), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(0)
    cases = [invoice(i, rng) if i % 2 else claim(i, rng) for i in range(args.n)]
    traced = ZenRulesEvaluator.load(GRAPHS, trace=True)
    untraced = ZenRulesEvaluator.load(GRAPHS, trace=False)

    def ours(ev: ZenRulesEvaluator) -> Callable[[], object]:
        return lambda: [
            ev.evaluate(document=d, extraction=e, triage=t, reference=r, now=NOW) for d, e, t, r in cases
        ]

    contexts = [
        (traced.graphs_for(d.kind), traced.context(document=d, extraction=e, triage=t, reference=r, now=NOW))
        for d, e, t, r in cases
    ]  # fmt: skip
    engine = zen.ZenEngine({"loader": lambda key: (GRAPHS / f"{key}.json").read_text()})
    contents = {p.stem: p.read_text() for p in graph_files(GRAPHS)}
    cached = zen.ZenEngine({"loader": contents.__getitem__})

    def bare(eng: Any, trace: bool) -> Callable[[], object]:
        return lambda: [eng.evaluate(key, ctx, {"trace": trace}) for keys, ctx in contexts for key in keys]

    graphs_per_doc = sum(len(k) for k, _ in contexts) / len(contexts)
    out: dict[str, Any] = {
        "documents": args.n,
        "graphs_per_document": graphs_per_doc,
        "ours_trace_docs_s": rate(args.n, ours(traced)),
        "ours_no_trace_docs_s": rate(args.n, ours(untraced)),
        "bare_zen_in_memory_loader_no_trace_docs_s": rate(args.n, bare(cached, False)),
        "bare_zen_in_memory_loader_trace_docs_s": rate(args.n, bare(cached, True)),
        "bare_zen_file_loader_no_trace_docs_s": rate(args.n, bare(engine, False)),
        "context_build_only_docs_s": rate(
            args.n,
            lambda: [
                traced.context(document=d, extraction=e, triage=t, reference=r, now=NOW)
                for d, e, t, r in cases
            ],
        ),
        "outcomes": {
            o: sum(
                1
                for d, e, t, r in cases
                if untraced.evaluate(document=d, extraction=e, triage=t, reference=r, now=NOW).outcome == o
            )
            for o in ("approve", "review", "reject")
        },
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
