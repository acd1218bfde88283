"""Outgoing events within the size budget: what is cut, how it is marked, where the rest lives."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest

from agents.budget import clip, dead_letter, fit, size_of
from agents.outgoing import decision_parts, review_parts, review_summary
from schemas.events import (
    DeadLetter,
    DocumentDecided,
    Envelope,
    ReviewRequested,
    StoredRecord,
)
from schemas.fields import ExtractedField, Extraction
from schemas.messages import MessageMeta
from schemas.verdicts import RuleReason, RuleResult

META = MessageMeta(topic="p.documents.received", partition=1, offset=7, key=b"k", epoch="e1")
ROW = StoredRecord(table="decisions", key={"document_id": "d1"})


def decided(**fields: str) -> Envelope[DocumentDecided]:
    payload = DocumentDecided(
        document_id="d1",
        kind="invoice",
        outcome="approve",
        decided_by="auto",
        fields=dict(fields),
        reasons=[RuleReason(code="ok", message="fine")],
    )
    return Envelope[DocumentDecided](type="document.decided", payload=payload)


def fitted_decision(env: Envelope[DocumentDecided], max_bytes: int) -> tuple[int, DocumentDecided]:
    msg = fit(
        topic="p.decided", key="d1", envelope=env, parts=decision_parts(document_id="d1"), max_bytes=max_bytes
    )
    return size_of(msg), Envelope[DocumentDecided].model_validate_json(msg.value).payload


def test_clip_marks_the_full_length() -> None:
    assert clip("abc", 3) == "abc"
    assert clip("abcdef", 3) == "abc…[truncated: 6 chars]"


def test_a_message_within_budget_is_left_alone() -> None:
    env = decided(total="10.00")
    msg = fit(topic="t", key="d1", envelope=env, parts=decision_parts(document_id="d1"), max_bytes=10_000)
    assert msg.value == env.model_dump_json().encode() and msg.key == b"d1"


def test_a_huge_field_value_is_truncated_and_points_at_the_decision_row() -> None:
    env = decided(total="10.00", address="A" * 200_000)
    size, payload = fitted_decision(env, 100_000)
    assert size <= 100_000
    assert payload.fields["total"] == "10.00"
    assert payload.fields["address"] == "A" * 4096 + "…[truncated: 200000 chars]"
    [cut] = payload.omitted
    assert (cut.path, cut.action, cut.record) == ("fields", "truncated", ROW)
    assert cut.size_bytes > 200_000
    assert (payload.document_id, payload.outcome, payload.kind) == ("d1", "approve", "invoice")


def test_smaller_caps_then_leaving_parts_out_until_it_fits() -> None:
    env = decided(**{f"f{i}": "x" * 5000 for i in range(20)})
    size, payload = fitted_decision(env, 4_000)  # 20 fields of 512 chars do not fit; of 64 they do
    assert size <= 4_000
    assert all(v is not None and v.startswith("x" * 64 + "…") for v in payload.fields.values())
    size, payload = fitted_decision(env, 900)  # not even then: the fields are left out
    assert size <= 900
    assert payload.fields == {}
    assert [(o.path, o.action) for o in payload.omitted] == [("fields", "left_out")]


def test_many_small_items_are_bounded_too() -> None:
    env = decided(total="1")
    env.payload.reasons = [RuleReason(code=f"c{i}", message="m") for i in range(20_000)]
    size, payload = fitted_decision(env, 50_000)
    assert size <= 50_000
    assert 0 < len(payload.reasons) <= 256
    assert [(o.path, o.action) for o in payload.omitted] == [("reasons", "truncated")]


@pytest.mark.parametrize("value_chars", [10, 10_000, 1_000_000, 5_000_000])
@pytest.mark.parametrize("budget", [2_000, 65_536, 900_000])
def test_never_over_budget(value_chars: int, budget: int) -> None:
    env = decided(note="é" * value_chars, other="z" * value_chars)
    env.payload.reasons = [RuleReason(code="r", message="m" * value_chars)]
    size, _ = fitted_decision(env, budget)
    assert size <= budget


def review_task(*, trace_bytes: int, raw_chars: int = 10) -> ReviewRequested:
    extraction = Extraction(
        kind="claim",
        model_version="x1",
        fields={"diagnosis_codes": ExtractedField(value="E78.5", raw="E785 " * raw_chars, confidence=0.8)},
    )
    rules = RuleResult(
        rules_version="r1",
        outcome="review",
        reasons=[RuleReason(code="low_confidence", message="check codes")],
        trace={"claim_codes": {"input": {"fields": "F" * trace_bytes}}},
    )
    return ReviewRequested(
        task_id="t1",
        document_id="d1",
        kind="claim",
        reasons=rules.reasons,
        priority=50,
        due_at=datetime(2026, 1, 1, tzinfo=UTC),
        extraction=extraction,
        rules=rules,
    )


def fitted_review(task: ReviewRequested, max_bytes: int) -> tuple[int, ReviewRequested]:
    env = Envelope[ReviewRequested](type="review.requested", payload=review_summary(task))
    msg = fit(topic="p.review", key="d1", envelope=env, parts=review_parts(task), max_bytes=max_bytes)
    return size_of(msg), Envelope[ReviewRequested].model_validate_json(msg.value).payload


def test_review_request_carries_a_rules_summary_and_where_the_trace_is() -> None:
    task = review_task(trace_bytes=5_000_000)
    size, sent = fitted_review(task, 900_000)
    assert size < 3_000
    assert sent.rules is not None and sent.rules.trace == {}
    assert (sent.rules.outcome, sent.rules.rules_version) == ("review", "r1")
    assert [r.code for r in sent.rules.reasons] == ["low_confidence"]
    [trace] = sent.omitted
    assert (trace.path, trace.action) == ("rules.trace", "left_out")
    assert trace.record == StoredRecord(table="rule_results", key={"document_id": "d1"})
    assert trace.size_bytes > 5_000_000
    assert sent.extraction == task.extraction  # the rest is whole when it fits
    assert task.rules is not None and task.rules.trace  # the stored task keeps it


def test_review_request_cuts_the_extraction_before_anything_else() -> None:
    task = review_task(trace_bytes=10, raw_chars=400_000)  # 2 MB of OCR text in one field's raw
    size, sent = fitted_review(task, 900_000)
    assert size <= 900_000
    assert sent.extraction is not None
    field = sent.extraction.fields["diagnosis_codes"]
    assert field.value == "E78.5" and field.raw is not None and "…[truncated: 2000000 chars]" in field.raw
    assert [(o.path, o.action) for o in sent.omitted] == [
        ("rules.trace", "left_out"),
        ("extraction", "truncated"),
    ]
    assert sent.omitted[1].record == StoredRecord(table="extractions", key={"document_id": "d1"})


def test_dead_letter_embeds_the_original_when_it_fits() -> None:
    raw = b"\x00bad input"
    msg = dead_letter(
        raw=raw,
        meta=META,
        reason="r",
        error_type="E",
        topic="p.dl",
        key=b"k",
        source="s",
        record=ROW,
        max_bytes=10_000,
    )
    letter = Envelope[DeadLetter].model_validate_json(msg.value).payload
    assert base64.b64decode(letter.original_base64) == raw and not letter.original_omitted
    assert (letter.original_size_bytes, letter.original_sha256) == (len(raw), hashlib.sha256(raw).hexdigest())


def test_dead_letter_of_a_large_original_names_where_it_is_kept() -> None:
    raw = b"x" * 2_000_000
    record = StoredRecord(table="dead_letters", key={"epoch": "e1", "offset": 7}, size_bytes=len(raw))
    msg = dead_letter(
        raw=raw,
        meta=META,
        reason="event too large " * 1000,
        error_type="EventTooLarge",
        topic="p.dl",
        key=b"k",
        source="s",
        record=record,
        max_bytes=900_000,
    )
    assert size_of(msg) < 5_000
    letter = Envelope[DeadLetter].model_validate_json(msg.value).payload
    assert letter.original_omitted and letter.original_base64 == ""
    assert letter.original_record == record
    assert letter.original_sha256 == hashlib.sha256(raw).hexdigest()
    assert (letter.topic, letter.partition, letter.offset) == (META.topic, 1, 7)
    assert letter.reason.endswith("…[truncated: 16000 chars]")


def test_the_new_fields_are_optional_so_events_from_before_still_validate() -> None:
    before = {"original_base64": "eA==", "reason": "r", "error_type": "E", "topic": "t"}
    letter = DeadLetter.model_validate(before)
    assert (letter.original_omitted, letter.original_record) == (False, None)
    data = json.loads(review_task(trace_bytes=10).model_dump_json())
    data.pop("omitted")
    assert ReviewRequested.model_validate(data).omitted == []
