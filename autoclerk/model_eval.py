"""Score given models on a labelled file, side by side: the wiring of `feedback.compare`.

`compare_models` is what `autoclerk eval --model` runs and what other commands call
(the fine-tuning flow's side-by-side, the promotion gate): it reads the dataset, opens
each ref through `autoclerk.model_refs`, and lets `feedback.compare` score and compare.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from autoclerk.model_refs import open_extractor
from feedback.compare import Candidate, ComparisonReport, compare_loaded
from feedback.datasets import split_documents
from feedback.errors import DatasetError
from feedback.eval_run import load_dataset
from feedback.paired import DEFAULT_RESAMPLES
from infra.settings import Settings
from schemas.document import LabelledDocument

SplitChoice = Literal["all", "test", "train"]


def documents_of(dataset: Path, *, split: SplitChoice = "all") -> list[LabelledDocument]:
    """The labelled documents of `dataset` (SROIE or our JSONL), optionally one declared split."""
    docs = load_dataset(dataset)
    if split != "all":
        train, test = split_documents(docs)
        docs = test if split == "test" else train
    if not docs:
        raise DatasetError(
            f"{dataset}: no labelled documents{'' if split == 'all' else f' in split {split!r}'}"
        )
    return docs


async def compare_documents(
    *,
    settings: Settings,
    documents: Sequence[LabelledDocument],
    refs: Sequence[str],
    dataset: str,
    target_error: float = 0.01,
    fields: Sequence[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> ComparisonReport:
    """`compare_models` on documents already in memory (async, for callers on a loop)."""

    @asynccontextmanager
    async def open_model(ref: str) -> AsyncIterator[Candidate]:
        async with open_extractor(settings, ref) as (resolved, extractor):
            yield Candidate(ref=ref, version=extractor.version, source=resolved.source, extractor=extractor)

    return await compare_loaded(
        documents=documents,
        refs=refs,
        open_model=open_model,
        dataset=dataset,
        target_error=target_error,
        fields=fields,
        resamples=resamples,
        seed=seed,
    )


def compare_models(
    *,
    settings: Settings,
    dataset: Path,
    refs: Sequence[str],
    target_error: float = 0.01,
    split: SplitChoice = "all",
    fields: Sequence[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> ComparisonReport:
    """Every ref scored on `dataset` without training; each after the first compared with
    the first by paired bootstrap. Raises `agents.errors.ModelRefError` for a ref that
    names nothing or cannot load, `feedback.errors.FeedbackError` for a bad dataset."""
    documents = documents_of(dataset, split=split)
    name = str(dataset) if split == "all" else f"{dataset} (split {split})"
    return asyncio.run(
        compare_documents(
            settings=settings,
            documents=documents,
            refs=refs,
            dataset=name,
            target_error=target_error,
            fields=fields,
            resamples=resamples,
            seed=seed,
        )
    )
