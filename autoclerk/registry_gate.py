"""The promotion gate wired for the CLI: training-side code (scikit-learn, `feedback`),
kept out of `autoclerk.registry`, which workers import."""

from __future__ import annotations

from agents.ports import Extractor
from agents.registry import Gate, Registry
from autoclerk.adapters import build_llm_extractor
from feedback.registry_gate import gate_for
from infra.settings import Settings
from schemas.registry import ModelVersion


def build_gate(settings: Settings, registry: Registry, name: str, *, tolerance: float) -> Gate:
    def load(version: ModelVersion) -> Extractor:
        if version.flavour == "llm":
            return build_llm_extractor(settings.llm.model_copy(update={"model": version.params["model"]}))
        from agents.extract.local import LocalExtractor

        return LocalExtractor.load(registry.local_artifacts(version))

    return gate_for(name, load=load, data_dir=settings.data_dir, tolerance=tolerance)
