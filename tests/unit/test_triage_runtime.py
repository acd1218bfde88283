from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from agents.ports import TriageClassifier
from agents.triage import OnnxTriageClassifier
from agents.triage.providers import CPU, choose_providers
from agents.triage.train import train_triage
from schemas.document import Document
from schemas.verdicts import TriageResult
from tests.unit.test_triage_samples import corpus


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_triage(documents=corpus(), out_dir=tmp_path_factory.mktemp("triage"))


class Counting(OnnxTriageClassifier):
    """Records the size of every session call, to observe batching."""

    batches: list[int]

    def classify_many(self, documents: Sequence[Document]) -> list[TriageResult]:
        self.batches.append(len(documents))
        return super().classify_many(documents)


def _load_counting(path: Path, **kw: float) -> Counting:
    base = OnnxTriageClassifier.load(path, prefer_gpu=False, **kw)  # type: ignore[arg-type]
    clf = Counting(
        model=base._model, failure=base.failure, max_batch=int(kw.get("max_batch", 32)), max_wait_ms=50
    )
    clf.batches = []
    return clf


async def test_concurrent_calls_share_session_runs(artifact: Path) -> None:
    docs = [d for d in corpus(n=6, seed=3)]
    clf = _load_counting(artifact, max_batch=8)
    async with clf:
        clf.batches.clear()  # forget the warm-up
        results = await asyncio.gather(*(clf.classify(d) for d in docs))
    assert [r.predicted_kind for r in results] == [
        f"claim:{d.claim_type}" if d.kind == "claim" else "invoice" for d in docs
    ]
    assert sum(clf.batches) == len(docs)
    assert max(clf.batches) == 8 and len(clf.batches) < len(docs)
    assert all(r.model_version == clf.version and r.failure is None for r in results)


async def test_result_shape_and_risk(artifact: Path) -> None:
    async with OnnxTriageClassifier.load(artifact, prefer_gpu=False) as clf:
        assert isinstance(clf, TriageClassifier)
        assert clf.providers == [CPU]
        doc = corpus(n=2, seed=9)[0]
        result = await clf.classify(doc)
    assert result.predicted_kind == "invoice"
    assert set(result.probabilities) == {"claim:auto", "claim:health", "invoice"}
    assert result.risk == pytest.approx(1 - max(result.probabilities.values()))


async def test_missing_model_sends_everything_to_review(tmp_path: Path) -> None:
    clf = OnnxTriageClassifier.load(tmp_path / "nope")
    assert clf.version == "unavailable" and clf.failure
    async with clf:
        result = await clf.classify(corpus(n=2)[0])
    assert result.risk == 1.0 and result.failure and "metadata.json" in result.failure


async def test_corrupt_model_sends_everything_to_review(artifact: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metadata.json").write_bytes((artifact / "metadata.json").read_bytes())
    (broken / "model.onnx").write_bytes(b"not a model")
    clf = OnnxTriageClassifier.load(broken)
    result = await clf.classify(corpus(n=2)[0])
    assert result.risk == 1.0 and result.failure and "ONNX session" in result.failure


async def test_inference_error_is_answered_not_raised(artifact: Path) -> None:
    clf = OnnxTriageClassifier.load(artifact, prefer_gpu=False)
    assert clf._model is not None
    clf._model.labels = []  # labels no longer match the graph's outputs
    async with clf:
        result = await clf.classify(corpus(n=2)[0])
    assert result.risk == 1.0 and result.failure and result.failure.startswith("IndexError")


async def test_close_before_start_and_twice(artifact: Path) -> None:
    clf = OnnxTriageClassifier.load(artifact, prefer_gpu=False)
    await clf.close()
    await clf.start()
    await clf.close()
    await clf.close()


def test_no_gpu_means_cpu_only() -> None:
    assert choose_providers(prefer_gpu=False) == [CPU]
    assert choose_providers(prefer_gpu=True)[-1] == CPU
