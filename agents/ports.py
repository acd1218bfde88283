"""The interfaces the workflow needs from the outside world.

Adapters (ONNX sessions, trained extractors, the OpenAI client, zen-engine) implement
these; nodes receive them through the graph's runtime context and never build them.
Fakes for unit tests live in `tests/fakes.py` and subclass nothing but these shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from schemas.document import Document
from schemas.fields import Extraction
from schemas.verdicts import ReferenceFacts, RuleResult, TriageResult


@runtime_checkable
class Extractor(Protocol):
    """Reads fields out of a document. Never raises for a bad document:
    it returns an `Extraction` with `failure` set, which routes to review."""

    @property
    def version(self) -> str: ...

    async def extract(self, document: Document) -> Extraction: ...


@runtime_checkable
class TriageClassifier(Protocol):
    """Fast first look: document kind and the likelihood a human must intervene.
    Implementations may micro-batch concurrent calls."""

    @property
    def version(self) -> str: ...

    async def classify(self, document: Document) -> TriageResult: ...


@runtime_checkable
class RulesEvaluator(Protocol):
    """Pure: inputs in, verdict out; the clock and reference data are passed in."""

    @property
    def version(self) -> str: ...

    def evaluate(
        self,
        *,
        document: Document,
        extraction: Extraction,
        triage: TriageResult,
        reference: ReferenceFacts,
        now: datetime,
    ) -> RuleResult: ...
