"""Reviewers' corrections become training data: documents go through the real service
(fakes of our own model interfaces only), a reviewer completes a task through the
review API, the worker's service records it, and the export reads it back from the
store (SQLite file and PostgreSQL schema)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agents.routing import RoutingPolicy
from agents.service import DocumentService
from autoclerk.bootstrap import Adapters, Database, build_service, open_database
from autoclerk.cli import app as cli
from feedback.datasets import declared_split, load_labelled_jsonl
from feedback.export import export_reviews
from infra.feedback_source import SqlReviewedSource
from infra.pdf import parse_pdf
from schemas.document import Line, PageSize
from schemas.events import DocumentReceived, Envelope
from schemas.messages import MessageMeta, Topics
from tests.fakes import FakeExtractor, FakeRules, FakeTriage
from tests.review_support import RecordingPublisher, client, login, make_settings, payloads, review_app

TOPICS = Topics.with_prefix("rv")  # the prefix review_app's settings publish under
PAGE = PageSize(width=400.0, height=900.0)


@pytest.fixture
async def database(db: tuple[str, str | None]) -> AsyncIterator[Database]:
    url, schema = db
    async with open_database(url, schema=schema) as d:
        yield d


def _service(database: Database) -> DocumentService:
    adapters = Adapters(
        triage=FakeTriage(),
        extractor=FakeExtractor(),
        rules=FakeRules(),
        parse_pdf=lambda b: parse_pdf(data=b),
        routing=RoutingPolicy(default_threshold=0.9, max_risk=0.5),
    )
    return build_service(
        store=database.store, checkpointer=database.checkpointer, adapters=adapters, topics=TOPICS
    )


def _received(doc_id: str, texts: list[str]) -> bytes:
    """OCR lines with boxes and a page size, as a scanner upstream sends them."""
    lines = [Line(text=t, bbox=(10.0, 20.0 * i, 200.0, 20.0 * i + 15)) for i, t in enumerate(texts)]
    payload = DocumentReceived(document_id=doc_id, kind="invoice", ocr_lines=lines, pages=[PAGE])
    return Envelope[DocumentReceived](type="document.received", payload=payload).model_dump_json().encode()


async def test_completed_review_exports_with_corrections_applied(
    database: Database, db: tuple[str, str | None], tmp_path: Path
) -> None:
    url, schema = db
    service = _service(database)
    # one document goes straight through, one to review (the '?' makes vendor_name unsure)
    sure = ["vendor_name: Shop", "issue_date: 2024-01-02", "total: 10.00"]
    unsure = ["vendor_name: ACME?", "issue_date: 2024-01-02", "total: 12.50"]
    for offset, (doc_id, texts) in enumerate([("doc-straight", sure), ("doc-review", unsure)]):
        meta = MessageMeta(topic=TOPICS.received, partition=0, offset=offset)
        emitted = await service.on_received(raw=_received(doc_id, texts), meta=meta)
        await service.mark_emitted(outbox_ids=[o.outbox_id for o in emitted if o.outbox_id])

    pub = RecordingPublisher()
    async with review_app(url, schema, publisher=pub) as (app, _), client(app) as c:
        csrf = await login(c, "ana")
        task_id = (await c.post("/api/tasks/next", headers={"X-CSRF-Token": csrf})).json()["task_id"]
        body = {
            "outcome": "approve",
            # corrected, added (the fake never extracts it) and cleared; issue_date untouched
            "fields": {"vendor_name": "ACME Ltd", "invoice_number": "INV-7", "total": ""},
        }
        done = await c.post(f"/api/tasks/{task_id}/complete", json=body, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 202, done.text
    [(topic, _, raw)] = pub.sent
    assert topic == TOPICS.review_completed and payloads(pub)[0]["payload"]["task_id"] == task_id
    # the worker consumes review.completed: decision and corrections stored together
    meta = MessageMeta(topic=TOPICS.review_completed, partition=0, offset=0)
    decided = await service.on_review_completed(raw=raw, meta=meta)
    assert len(decided) == 2  # document.decided + feedback.correction

    out = tmp_path / "corrections.jsonl"
    source = SqlReviewedSource(engine=database.engine)
    summary = await export_reviews(source=source, out=out)
    assert summary.documents == 1 and summary.corrected_fields == 3 and summary.by_reviewer == {"ana": 1}
    [doc] = load_labelled_jsonl(out)
    assert doc.document_id == "doc-review"  # the straight-through document is not human-verified
    assert doc.gold["vendor_name"] == "ACME Ltd"
    assert doc.gold["issue_date"] == "2024-01-02"  # confirmed
    assert doc.gold["invoice_number"] == "INV-7"
    assert doc.gold["total"] is None
    assert [ln.text for ln in doc.lines] == unsure
    assert doc.lines[1].bbox == (10.0, 20.0, 200.0, 35.0) and doc.pages == [PAGE]
    assert doc.split == declared_split("doc-review")
    assert doc.provenance is not None
    assert doc.provenance.reviewer == "ana" and doc.provenance.task_id == task_id
    assert doc.provenance.model_version == FakeExtractor.version
    assert doc.provenance.reviewed_at is not None
    assert abs(doc.provenance.reviewed_at - datetime.now(UTC)) < timedelta(hours=1)
    assert doc.metadata["needs_review"] == "true"  # the reviewer changed fields: triage's label

    # the same review as an OpenAI chat fine-tuning example for the LLM extractor
    assert doc.split == "train"  # (a test-split document would be kept out of the file)
    tuning = await export_reviews(source=source, out=tmp_path / "ft.jsonl", fmt="openai")
    assert tuning.written == 1 and tuning.skipped == []
    [example] = [json.loads(line) for line in (tmp_path / "ft.jsonl").read_text().splitlines()]
    assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
    answer = json.loads(example["messages"][2]["content"])["fields"]
    assert (
        answer["vendor_name"] == "ACME Ltd"
        and answer["total"] is None
        and answer["invoice_number"] == "INV-7"
    )

    later = await export_reviews(source=source, out=out, since=datetime.now(UTC) + timedelta(hours=1))
    assert later.documents == 0 and load_labelled_jsonl(out) == []

    if schema is None:  # the command line reads the configured (SQLite) database the same way
        env = {"AUTOCLERK_DB__URL": url}
        cli_out = tmp_path / "cli.jsonl"
        result = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            ["feedback", "export", "--out", str(cli_out), "--since", "2000-01-01T00:00:00Z"],
            env=env,
        )
        assert result.exit_code == 0, result.output
        assert [d.document_id for d in load_labelled_jsonl(cli_out)] == ["doc-review"]
        assert "wrote 1 reviewed document(s)" in result.output


async def test_rejected_documents_export_only_what_the_reviewer_checked(
    database: Database, db: tuple[str, str | None], tmp_path: Path
) -> None:
    """Regression (issue 11, item 8): a reject exported the model's fields as gold. Now a
    reject must say its kind; one for wrong data exports only the corrected fields, one
    of the business case (fields checked and right) every field."""
    url, schema = db
    service = _service(database)
    docs = {
        "doc-bad-data": ["vendor_name: ACME?", "issue_date: 2024-01-02", "total: 12.50"],
        "doc-refused": ["vendor_name: Shady?", "issue_date: 2024-02-03", "total: 99.00"],
    }
    for offset, (doc_id, texts) in enumerate(docs.items()):
        meta = MessageMeta(topic=TOPICS.received, partition=0, offset=offset)
        emitted = await service.on_received(raw=_received(doc_id, texts), meta=meta)
        await service.mark_emitted(outbox_ids=[o.outbox_id for o in emitted if o.outbox_id])

    pub = RecordingPublisher()
    async with review_app(url, schema, publisher=pub) as (app, _), client(app) as c:
        csrf = await login(c, "ana")
        headers = {"X-CSRF-Token": csrf}
        answers = {
            "doc-bad-data": {"reject_kind": "fields", "fields": {"total": "21.50"}},
            "doc-refused": {"reject_kind": "business"},
        }
        for _ in docs:
            task_id = (await c.post("/api/tasks/next", headers=headers)).json()["task_id"]
            document_id = (await c.get(f"/api/tasks/{task_id}", headers=headers)).json()["task"][
                "document_id"
            ]
            body = {"outcome": "reject", "reason": "no", **answers[document_id]}
            unsaid = await c.post(
                f"/api/tasks/{task_id}/complete", json={"outcome": "reject", "reason": "no"}, headers=headers
            )
            assert unsaid.status_code == 422 and "reject_kind" in unsaid.json()["detail"]
            done = await c.post(f"/api/tasks/{task_id}/complete", json=body, headers=headers)
            assert (
                done.status_code == 202 and done.json()["reject_kind"] == answers[document_id]["reject_kind"]
            )
    assert sorted(p["payload"]["reject_kind"] for p in payloads(pub)) == ["business", "fields"]
    for offset, (_, _, raw) in enumerate(pub.sent):
        meta = MessageMeta(topic=TOPICS.review_completed, partition=0, offset=offset)
        await service.on_review_completed(raw=raw, meta=meta)

    out = tmp_path / "rejects.jsonl"
    summary = await export_reviews(source=SqlReviewedSource(engine=database.engine), out=out)
    assert summary.documents == 2
    exported = {d.document_id: d for d in load_labelled_jsonl(out)}
    assert exported["doc-bad-data"].gold == {"total": "21.50"}  # only the field the reviewer fixed
    refused = exported["doc-refused"].gold
    assert refused["issue_date"] == "2024-02-03" and refused["total"] == "99.00"  # checked and right
    assert {d.provenance.reject_kind for d in exported.values() if d.provenance} == {"fields", "business"}


async def test_export_keeps_the_reconciled_answer_once_per_content_with_pii_scrubbed(
    database: Database, db: tuple[str, str | None], tmp_path: Path
) -> None:
    url, schema = db
    service = _service(database)
    texts = [
        "vendor_name: ACME?",
        "issue_date: 2024-01-02",
        "total: 12.50",
        "contact: Mr John Smith, jane.doe@example.com, (415) 555-2671",
        "pay to: GB82 WEST 1234 5698 7654 32",
    ]
    # the same scan twice under two ids: one example, not two (and never one per split)
    for offset, doc_id in enumerate(["doc-first", "doc-again"]):
        meta = MessageMeta(topic=TOPICS.received, partition=0, offset=offset)
        emitted = await service.on_received(raw=_received(doc_id, texts), meta=meta)
        await service.mark_emitted(outbox_ids=[o.outbox_id for o in emitted if o.outbox_id])

    pub = RecordingPublisher()
    users = {"ana": "reviewer", "bob": "reviewer", "lee": "lead"}
    settings = make_settings(second_share=1.0)  # every task needs two reviewers
    async with (
        review_app(url, schema, publisher=pub, users=users, settings=settings) as (app, _),
        client(app) as ana,
        client(app) as bob,
        client(app) as lee,
    ):
        ca, cb, cl = await login(ana, "ana"), await login(bob, "bob"), await login(lee, "lee")

        async def answer(c: Any, csrf: str, total: str) -> str:
            task = (await c.post("/api/tasks/next", headers={"X-CSRF-Token": csrf})).json()["task_id"]
            body = {"outcome": "approve", "fields": {"vendor_name": "ACME Ltd", "total": total}}
            done = await c.post(f"/api/tasks/{task}/complete", json=body, headers={"X-CSRF-Token": csrf})
            assert done.status_code == 202, done.text
            return str(task)

        agreed = await answer(ana, ca, "12.50")
        assert await answer(bob, cb, "12.50") == agreed  # two agree: published
        differed = await answer(ana, ca, "10.00")
        assert await answer(bob, cb, "13.00") == differed  # they differ: a lead reconciles
        assert await answer(lee, cl, "12.00") == differed
    for offset, (_topic, _key, raw) in enumerate(pub.sent):
        meta = MessageMeta(topic=TOPICS.review_completed, partition=0, offset=offset)
        await service.on_review_completed(raw=raw, meta=meta)

    out = tmp_path / "reviews.jsonl"
    source = SqlReviewedSource(engine=database.engine)
    summary = await export_reviews(source=source, out=out, scrub_pii=True)
    assert summary.documents == 1 and summary.duplicates == 1 and summary.reconciled == 1
    [doc] = load_labelled_jsonl(out)
    assert doc.gold["total"] == "12.00" and doc.provenance and doc.provenance.reviewer == "lee"
    exported = out.read_text()
    for secret in ("John Smith", "jane.doe@example.com", "555-2671", "GB82 WEST"):
        assert secret not in exported
    assert doc.lines[3].text == "contact: <PERSON_1>, <EMAIL_1>, <PHONE_1>"  # an invoice: no claimant
    assert doc.lines[4].text == "pay to: <IBAN_1>"
    assert doc.gold["vendor_name"] == "ACME Ltd" and doc.gold["issue_date"] == "2024-01-02"

    mapping = json.loads((tmp_path / "reviews.jsonl.pii-map.json").read_text())["placeholders"]
    assert mapping == {
        "<PERSON_1>": "Mr John Smith",
        "<EMAIL_1>": "jane.doe@example.com",
        "<PHONE_1>": "(415) 555-2671",
        "<IBAN_1>": "GB82 WEST 1234 5698 7654 32",
    }
    assert (tmp_path / "reviews.jsonl.pii-map.json").stat().st_mode & 0o077 == 0
    manifest = json.loads((tmp_path / "reviews.jsonl.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["counts"]["documents"] == 1 and manifest["counts"]["duplicates_dropped"] == 1
    assert manifest["counts"]["reconciled_by_lead"] == 1 and manifest["counts"]["double_reviewed"] == 1
    [dropped] = {"doc-first", "doc-again"} - {doc.document_id}  # the older review of the content
    assert manifest["duplicates"] == [dropped] and manifest["splits"] == {doc.document_id: doc.split}
    assert manifest["field_coverage"]["total"] == {"labelled": 1, "non_null": 1}
    assert manifest["reviewed_from"] == manifest["reviewed_to"] is not None
    assert manifest["pii"] == {
        "scrubbed": True,
        "placeholders": 4,
        "mapping_file": "reviews.jsonl.pii-map.json",
    }
    assert "John Smith" not in json.dumps(manifest)
