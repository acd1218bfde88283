"""Triage throughput: batched vs one at a time, ONNX vs scikit-learn, CUDA vs CPU.

    .venv/bin/python -m bench.triage [--shared /work/shared/data] [--n 512]

Trains on what is at hand (shipped SROIE receipts, data/samples/claims.jsonl when
present, auto claims rendered from the shared table when present), then measures
docs/s on the training documents. scikit-learn is measured on the same features
(`Featurizer.sparse`), ONNX on the padded sparse input it serves. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from agents.triage import OnnxTriageClassifier
from agents.triage.claims_risk_train import train_claims_risk
from agents.triage.features import Featurizer
from agents.triage.providers import cuda_device_count
from agents.triage.samples import auto_claim_documents
from agents.triage.train import _model, kind_label, train_triage
from feedback.datasets import load_labelled_jsonl, load_sroie
from schemas.document import Document, LabelledDocument

ROOT = Path(__file__).resolve().parent.parent


def documents(shared: Path) -> tuple[list[LabelledDocument], dict[str, str]]:
    docs, sources = load_sroie(), {"invoice": "data/sroie/train.jsonl"}
    claims = ROOT / "data" / "samples" / "claims.jsonl"
    if claims.is_file():
        docs += load_labelled_jsonl(claims)
        sources["claim:health"] = str(claims.relative_to(ROOT))
    auto_csv = shared / "auto-claims" / "insurance_claims_train.csv"
    if auto_csv.is_file():
        docs += auto_claim_documents(auto_csv)
        sources["claim:auto"] = str(auto_csv)
    return docs, sources


def rate(n: int, fn: Callable[[], object]) -> float:
    fn()  # warm
    start = time.perf_counter()
    fn()
    return round(n / (time.perf_counter() - start), 1)


async def _sequential(clf: OnnxTriageClassifier, docs: list[Document]) -> None:
    for d in docs:
        await clf.classify(d)


async def _concurrent(clf: OnnxTriageClassifier, docs: list[Document]) -> None:
    await asyncio.gather(*(clf.classify(d) for d in docs))


async def arate(n: int, fn: Callable[[], Awaitable[object]]) -> float:
    await fn()  # warm
    start = time.perf_counter()
    await fn()
    return round(n / (time.perf_counter() - start), 1)


async def onnx_rates(
    artifact: Path, docs: list[Document], *, gpu: bool, max_wait_ms: float
) -> dict[str, Any]:
    async with OnnxTriageClassifier.load(artifact, prefer_gpu=gpu, max_wait_ms=max_wait_ms) as clf:
        seq = docs[:128]
        return {
            "providers": clf.providers,
            "max_wait_ms": max_wait_ms,
            # through `classify` (the batcher), awaiting each before the next
            "one_at_a_time_docs_s": await arate(len(seq), lambda: _sequential(clf, seq)),
            # `classify_many([doc])`: the sessions and features alone, like scikit-learn's row below
            "direct_one_at_a_time_docs_s": rate(len(seq), lambda: [clf.classify_many([d]) for d in seq]),
            "micro_batched_concurrent_docs_s": await arate(len(docs), lambda: _concurrent(clf, docs)),
            "direct_batches_of_32_docs_s": rate(
                len(docs), lambda: [clf.classify_many(docs[i : i + 32]) for i in range(0, len(docs), 32)]
            ),
        }


def sklearn_rates(train: list[LabelledDocument], docs: list[Document]) -> dict[str, float]:
    feat = Featurizer()
    labels = sorted({kind_label(d) for d in train})
    model = _model(0).fit(feat.sparse([d.text for d in train]), [labels.index(kind_label(d)) for d in train])
    seq = docs[:128]
    return {
        "one_at_a_time_docs_s": rate(
            len(seq), lambda: [model.predict_proba(feat.sparse([d.text])) for d in seq]
        ),
        "batches_of_32_docs_s": rate(
            len(docs),
            lambda: [
                model.predict_proba(feat.sparse([d.text for d in docs[i : i + 32]]))
                for i in range(0, len(docs), 32)
            ],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--max-wait-ms", type=float, default=0.0, help="batcher wait (serving default: 0)")
    args = parser.parse_args()
    threadpool_limits(1, "openmp")  # 2 shared cores: OpenMP spinning would measure contention
    docs, sources = documents(args.shared)
    out: dict[str, Any] = {"sources": sources, "documents": len(docs)}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        artifact = train_triage(documents=docs, out_dir=Path(tmp))
        out["train_seconds"] = round(time.perf_counter() - start, 1)
        meta = json.loads((artifact / "metadata.json").read_text())
        out["cv_metrics"] = meta["cv_metrics"]
        out["risk"] = meta["risk"]
        sample = (docs * (args.n // len(docs) + 1))[: args.n]
        wait = args.max_wait_ms
        out["onnx_cpu"] = asyncio.run(onnx_rates(artifact, sample, gpu=False, max_wait_ms=wait))
        if cuda_device_count() > 0:
            out["onnx_cuda"] = asyncio.run(onnx_rates(artifact, sample, gpu=True, max_wait_ms=wait))
        out["sklearn_cpu"] = sklearn_rates(docs, sample)
        auto_csv = args.shared / "auto-claims" / "insurance_claims_train.csv"
        if auto_csv.is_file():
            risk = train_claims_risk(csv_path=auto_csv, out_dir=Path(tmp))
            out["claims_risk"] = json.loads((risk / "metadata.json").read_text())["cv_metrics"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
