"""Fakes of our own interfaces (agents.ports), for unit tests. One place, so they
cannot drift: each is checked against its Protocol in tests/unit/test_fakes.py."""

from __future__ import annotations

from datetime import datetime

from schemas.document import Document
from schemas.fields import ExtractedField, Extraction, FieldSource
from schemas.verdicts import ReferenceFacts, RuleReason, RuleResult, TriageResult


class FakeExtractor:
    """Reads `field: value` lines; confidence 0.99, or 0.5 for values marked with '?'."""

    version = "fake-extractor-1"

    async def extract(self, document: Document) -> Extraction:
        fields: dict[str, ExtractedField] = {}
        for i, line in enumerate(document.lines):
            name, sep, value = line.text.partition(":")
            if not sep:
                continue
            value = value.strip()
            conf = 0.5 if value.endswith("?") else 0.99
            fields[name.strip()] = ExtractedField(
                value=value.rstrip("?"), raw=value, confidence=conf, source=FieldSource(line=i)
            )
        return Extraction(kind=document.kind, fields=fields, model_version=self.version)


class FakeTriage:
    version = "fake-triage-1"

    def __init__(self, *, risk: float = 0.1, fail: str | None = None) -> None:
        self.risk = risk
        self.fail = fail

    async def classify(self, document: Document) -> TriageResult:
        return TriageResult(
            model_version=self.version,
            predicted_kind=document.kind,
            risk=1.0 if self.fail else self.risk,
            failure=self.fail,
        )


class FakeRules:
    """Rejects totals over 1000, asks review for duplicates, approves the rest."""

    version = "fake-rules-1"

    def evaluate(
        self,
        *,
        document: Document,
        extraction: Extraction,
        triage: TriageResult,
        reference: ReferenceFacts,
        now: datetime,
    ) -> RuleResult:
        total = float(extraction.value("total") or 0)
        if reference.duplicate_of:
            reason = RuleReason(code="duplicate", message=f"duplicate of {reference.duplicate_of}")
            return RuleResult(rules_version=self.version, outcome="review", reasons=[reason])
        if total > 1000:
            reason = RuleReason(code="over_limit", message="total over 1000", severity="reject")
            return RuleResult(rules_version=self.version, outcome="reject", reasons=[reason])
        return RuleResult(rules_version=self.version, outcome="approve")
