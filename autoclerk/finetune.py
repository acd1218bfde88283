"""Wiring of `feedback.finetune_jobs`: the OpenAI fine-tuning adapter, the jobs table,
and the candidate sink that scores a tuned model beside the active one and registers it.

The two calls into other parts of the system sit in one small function each
(`side_by_side`, `register_version`), so a change of the evaluation or the registry
API changes only them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.extract.llm_schema import response_schema
from agents.extract.prompts import prompt_version
from autoclerk.registry import llm_params
from feedback.datasets import SHIPPED_SROIE
from feedback.export_manifest import manifest_path
from feedback.finetune_file import FileLimits
from feedback.finetune_jobs import Polling
from infra.errors import FineTuneUnavailable
from infra.finetune_api import OpenAiFineTuning
from infra.finetune_store import SqlJobStore
from infra.settings import Settings
from schemas.finetune import JobRecord

EXTRACTOR = "extractor"
RETRY_ON: tuple[type[BaseException], ...] = (FineTuneUnavailable,)


@dataclass
class Runtime:
    api: OpenAiFineTuning
    store: SqlJobStore


@contextmanager
def open_runtime(settings: Settings) -> Iterator[Runtime]:
    """The provider client and the jobs table (migrated), closed on exit."""
    from infra.db.engine import make_engine, migrate

    migrate(settings.db.url)
    engine = make_engine(settings.db.url)
    api = OpenAiFineTuning.from_settings(settings.llm)
    try:
        yield Runtime(api=api, store=SqlJobStore(engine=engine))
    finally:
        api.close()
        engine.dispose()


def file_limits(settings: Settings) -> FileLimits:
    f = settings.finetune
    return FileLimits(
        min_examples=f.min_examples, max_example_tokens=f.max_example_tokens, max_file_bytes=f.max_file_bytes
    )


def polling(settings: Settings, *, timeout_s: float | None = None) -> Polling:
    f = settings.finetune
    return Polling(
        initial_s=f.poll_initial_s,
        max_s=f.poll_max_s,
        retry_for_s=f.retry_for_s,
        retry_initial_s=min(f.poll_initial_s, 1.0),
        timeout_s=timeout_s,
    )


def read_manifest(export: Path, *, sha256: str) -> dict[str, Any]:
    """The export's manifest when it describes this very file, else a note why not."""
    path = manifest_path(export)
    if not path.is_file():
        return {"note": "no export manifest beside the file"}
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("sha256") != sha256:
        return {"note": f"{path.name} describes another file (sha256 differs)"}
    return manifest


def active_ref(settings: Settings) -> str:
    """The extractor serving now: the configured LLM, else the local model's champion."""
    return f"llm:{settings.llm.model}" if settings.llm.enabled else f"{EXTRACTOR}@champion"


def side_by_side(*, settings: Settings, dataset: Path, refs: list[str]) -> dict[str, Any]:
    """`refs` scored on the declared test split of `dataset`, the first as the baseline."""
    from autoclerk.model_eval import compare_models

    report = compare_models(
        settings=settings,
        dataset=dataset,
        refs=refs,
        target_error=settings.routing.target_error,
        split="test",
    )
    return report.model_dump(mode="json")


def register_version(
    *, settings: Settings, params: dict[str, Any], lineage: dict[str, Any], metrics: dict[str, Any]
) -> str:
    """A new `candidate` version of the extractor; returns its ref (`extractor/N`)."""
    from autoclerk.registry import registry_session

    with registry_session(settings) as registry:
        active = registry.active(EXTRACTOR)
        lineage = {**lineage, "parent": active.ref if active else None}
        return registry.register(name=EXTRACTOR, params=params, lineage=lineage, metrics=metrics).ref


def headline(report: dict[str, Any], *, trained_tokens: int | None) -> dict[str, Any]:
    """The figures a person compares first, beside the full side-by-side report."""
    out: dict[str, Any] = {"dataset": report["dataset"], "documents": report["documents"]}
    for role, model in zip(("baseline", "candidate"), report["models"], strict=False):
        accuracy = [r["document_accuracy"] for r in model["reports"]]
        out[role] = {
            "ref": model["ref"],
            "document_accuracy": sum(accuracy) / len(accuracy) if accuracy else None,
            "failures": model["failures"],
            "prompt_tokens": model.get("prompt_tokens"),
            "completion_tokens": model.get("completion_tokens"),
            "cost_usd": model.get("cost_usd"),
            "latency_ms_p50": model.get("latency_ms_p50"),
        }
    out["trained_tokens"] = trained_tokens
    return out


@dataclass
class RegistrySink:
    """Implements `feedback.finetune_jobs.CandidateSink`."""

    settings: Settings
    eval_data: Path | None = None
    last: dict[str, Any] | None = None  # the headline figures of the last registration

    def register(self, record: JobRecord) -> str:
        s = self.settings
        model = str(record.fine_tuned_model)
        candidate = f"llm:{model}@{s.llm.base_url}" if s.llm.base_url else f"llm:{model}"
        dataset = self.eval_data or s.finetune.eval_data or SHIPPED_SROIE
        report = side_by_side(settings=s, dataset=dataset, refs=[active_ref(s), candidate])
        # the export's examples are answers without reasoning: their prompt version
        trained_on = {kind: response_schema(kind, reasoning=False) for kind in ("invoice", "claim")}
        params = {**llm_params(s.llm, model=model), "base_model": record.base_model}
        lineage = {
            "source": "finetune",
            "finetune_job": record.job_id,
            "base_model": record.base_model,
            "training_sha256": record.training_sha256,
            "trained_prompt_version": prompt_version(dict(trained_on), reasoning=False),
            "training_file": record.training_file,
            "validation_file": record.validation_file,
            "export_manifest": record.manifest,
            "hyperparameters": record.hyperparameters,
            "trained_tokens": record.trained_tokens,
        }
        self.last = headline(report, trained_tokens=record.trained_tokens)
        candidate_figures, baseline = self.last.get("candidate", {}), self.last.get("baseline", {})
        # flat figures first: listings show a version's first few metrics
        metrics = {
            "document_accuracy": candidate_figures.get("document_accuracy"),
            "baseline_document_accuracy": baseline.get("document_accuracy"),
            "cost_usd": candidate_figures.get("cost_usd"),
            "trained_tokens": record.trained_tokens,
            "held_out_documents": self.last["documents"],
            "side_by_side": self.last,
            "report": report,
        }
        return register_version(settings=s, params=params, lineage=lineage, metrics=metrics)
