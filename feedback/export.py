"""Reviewed documents → labelled training data.

Gold is only what a person checked. A reviewer who approves, or rejects the business
case (`reject_kind` business: the fields are right, the claim or invoice is refused),
has vouched for every field the page showed: the fields they changed are corrections,
the ones they left alone confirmations, so gold is the model's extraction with the
corrections applied, over every field of the kind. A reject because the data is wrong
or unreadable (`reject_kind` fields), a reject from before the kind was asked, and a
request for information vouch only for what the reviewer typed: gold then holds the
corrected fields and nothing else (a field left out is unknown, not absent).
Straight-through documents are never exported: no person checked them, and training
on the model's own unchecked output would teach it its mistakes.

`labelled_from_review` is the one place that rule lives; the export here and the
simulated reviewers of `bench.feedback_loop` both call it. The split is the declared
hash split of the document id, so a corrected test-split document is scored on,
never trained on. Reading the store is an adapter's job (`ReviewedSource`, implemented
in `infra.feedback_source`): this module does no I/O but writing the file it is given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

from feedback.datasets import declared_split, write_labelled_jsonl
from feedback.errors import ExportError
from feedback.exceptions import LABEL, SOURCE
from feedback.export_manifest import build_manifest, dedup, manifest_path, pii_map_path, write_json
from feedback.finetune import fine_tuning_set, write_jsonl
from feedback.pii import PERSON_FIELDS, Scrubber
from schemas.document import LabelledDocument, Provenance
from schemas.events import FieldCorrection
from schemas.feedback import ReviewedDocument
from schemas.fields import Extraction, field_names
from schemas.values import comparison_key, normalize

ExportFormat = Literal["labelled", "openai"]


class ReviewedSource(Protocol):
    """Where completed reviews come from (the SQL store in production)."""

    def reviewed(self, *, since: datetime | None = None) -> AsyncIterator[ReviewedDocument]: ...


class ExportSummary(BaseModel):
    documents: int
    splits: dict[str, int]
    corrected_fields: int
    confirmed_fields: int
    by_reviewer: dict[str, int]
    written: int = 0  # lines in the file: documents, or fine-tuning examples
    skipped: list[tuple[str, str]] = []  # (document id, why) left out of a fine-tuning file
    duplicates: int = 0  # reviews dropped: a newer review of the same content was kept
    reconciled: int = 0  # documents whose answer is a lead's reconciliation of two reviews
    manifest: str | None = None  # the manifest written beside the export
    pii_map: str | None = None  # where the placeholders' originals went (with --scrub-pii)


def reviewed_value(*, field: str, typed: str | None) -> str | None:
    """A reviewer's value in the spelling training compares on (ISO dates, plain amounts).
    What the normaliser cannot read stays as typed: the person's word is the label."""
    text = (typed or "").strip()
    if not text:
        return None
    return normalize(field, text) or text


def vouches_for_all_fields(*, outcome: str, reject_kind: str | None) -> bool:
    """Whether the answer confirms the fields the reviewer left alone: an approve, or a
    reject of the business case. A reject for wrong data (or of unknown kind) and a
    request for information confirm nothing but the corrections."""
    return outcome == "approve" or (outcome == "reject" and reject_kind == "business")


def labelled_from_review(*, reviewed: ReviewedDocument) -> LabelledDocument:
    """The reviewed document with gold = the fields a person checked: extraction with
    corrections applied for every field, or only the corrected fields (see the module)."""
    doc, extraction = reviewed.document, reviewed.extraction
    if extraction.kind != doc.kind:
        raise ExportError(f"{doc.document_id}: a {doc.kind} with a {extraction.kind} extraction")
    names = [*field_names(doc.kind), *(n for n in extraction.fields if n not in field_names(doc.kind))]
    gold: dict[str, str | None] = {}
    if vouches_for_all_fields(outcome=reviewed.outcome, reject_kind=reviewed.reject_kind):
        gold = {name: extraction.value(name) for name in names}
    for c in reviewed.corrections:
        gold[c.field] = reviewed_value(field=c.field, typed=c.new_value)
    provenance = Provenance(
        source="review",
        reviewer=reviewed.reviewer,
        reviewed_at=reviewed.reviewed_at,
        task_id=reviewed.task_id,
        outcome=reviewed.outcome,
        model_version=extraction.model_version,
        corrected=sorted({c.field for c in reviewed.corrections}),
        reject_kind=reviewed.reject_kind if reviewed.outcome == "reject" else None,
    )
    # The triage risk model's label: did the person have to change anything? A review
    # that approved the fields as extracted was not needed; a correction or a reject was.
    changed = bool(reviewed.corrections) or reviewed.outcome == "reject"
    metadata = {**doc.metadata, LABEL: "true" if changed else "false", SOURCE: "review"}
    return LabelledDocument(
        **doc.model_dump(exclude={"metadata"}),
        metadata=metadata,
        gold=gold,
        split=declared_split(doc.document_id),
        provenance=provenance,
    )


def corrections_against(
    *, extraction: Extraction, gold: dict[str, str | None], fields: Iterable[str]
) -> list[FieldCorrection]:
    """What a reviewer who knows `gold` would change: every field whose value differs.
    (Comparison as evaluation compares: case and whitespace do not count.)"""
    out = []
    for name in fields:
        old, new = extraction.value(name), gold.get(name)
        if comparison_key(old) != comparison_key(new):
            out.append(
                FieldCorrection(
                    field=name, old_value=old, new_value=new, old_confidence=extraction.confidence(name)
                )
            )
    return out


def summarise(documents: Sequence[LabelledDocument]) -> ExportSummary:
    corrected = sum(len(d.provenance.corrected) for d in documents if d.provenance)
    return ExportSummary(
        documents=len(documents),
        splits=dict(Counter(d.split or "unknown" for d in documents)),
        corrected_fields=corrected,
        confirmed_fields=sum(len(d.gold) for d in documents) - corrected,
        by_reviewer=dict(Counter(d.provenance.reviewer or "" for d in documents if d.provenance)),
    )


async def export_reviews(
    *,
    source: ReviewedSource,
    out: Path,
    since: datetime | None = None,
    fmt: ExportFormat = "labelled",
    scrub_pii: bool = False,
    pii_map: Path | None = None,
) -> ExportSummary:
    """Write every review completed since `since` (atomically: a reader never sees half
    a file) as our labelled JSONL, or as OpenAI chat fine-tuning examples for the LLM
    extractor (`fmt="openai"`), one document per content (the newest review); the
    manifest beside it; with `scrub_pii`, personal data replaced by placeholders and
    the mapping back written to `pii_map` (default `<out>.pii-map.json`), never into
    the export. Returns what was written."""
    reviews = [r async for r in source.reviewed(since=since)]
    rounds = {r.document.document_id: r.review_rounds for r in reviews}
    documents, duplicates = dedup([labelled_from_review(reviewed=r) for r in reviews])
    scrubber = Scrubber() if scrub_pii else None
    if scrubber is not None:
        extracted = {
            r.document.document_id: [r.extraction.value(f) or "" for f in PERSON_FIELDS] for r in reviews
        }
        documents = [scrubber.document(d, extracted=extracted.get(d.document_id, ())) for d in documents]
    tmp = out.with_name(out.name + ".tmp")
    skipped: list[tuple[str, str]] = []
    if fmt == "openai":
        # Test-split documents stay out of fine-tuning too: they are how a tuned model is scored.
        tuning = fine_tuning_set(d for d in documents if d.split != "test")
        skipped = tuning.skipped
        with tmp.open("w", encoding="utf-8") as fh:
            written = write_jsonl(tuning.records, fh)
    else:
        written = write_labelled_jsonl(documents, tmp)
    tmp.replace(out)
    mapping = None
    if scrubber is not None:
        mapping = pii_map or pii_map_path(out)
        write_json(mapping, {"export": out.name, "placeholders": scrubber.mapping}, private=True)
    manifest = build_manifest(
        export=out,
        fmt=fmt,
        documents=documents,
        written=written,
        duplicates=duplicates,
        skipped=skipped,
        rounds=rounds,
        pii_map=mapping,
        placeholders=len(scrubber.mapping) if scrubber else 0,
    )
    write_json(manifest_path(out), manifest)
    return summarise(documents).model_copy(
        update={
            "written": written,
            "skipped": skipped,
            "duplicates": len(duplicates),
            "reconciled": manifest["counts"]["reconciled_by_lead"],
            "manifest": str(manifest_path(out)),
            "pii_map": str(mapping) if mapping else None,
        }
    )


def merge_documents(
    base: Sequence[LabelledDocument], extra: Sequence[LabelledDocument]
) -> list[LabelledDocument]:
    """`base` plus `extra`; where both hold a document id, `extra` wins (a reviewer's
    label of a shipped document is the newer word). Later files win over earlier ones."""
    merged = {d.document_id: d for d in base}
    for d in extra:
        merged[d.document_id] = d
    return list(merged.values())
