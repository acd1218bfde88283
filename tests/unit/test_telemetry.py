"""Telemetry hooks and log formats, in process: LLM usage read from an extraction's notes,
no-op hooks without telemetry, and JSON log lines carrying the document's ids."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging

import pytest

from agents import telemetry
from agents.telemetry import Telemetry, bind_document, install, stage
from autoclerk.logs import configure_logging
from infra.settings import LogSettings
from schemas.fields import Extraction


def value(t: Telemetry, name: str, **labels: str) -> float | None:
    return t.registry.get_sample_value(name, labels)


def test_llm_usage_cost_and_errors_come_from_the_extraction_notes() -> None:
    t = Telemetry()
    paid = {"cache": "miss", "prompt_tokens": "120", "completion_tokens": "30", "cost_usd": "0.0005"}
    t.observe_extraction(Extraction(kind="invoice", model_version="llm-test", notes=paid))
    t.observe_extraction(
        Extraction(kind="invoice", model_version="llm-test", notes={"cache": "hit", "prompt_tokens": "0"})
    )
    failed = Extraction(
        kind="invoice",
        model_version="llm-test",
        failure="llm_unavailable: no answer within 30s",
        notes={"attempts": "3"},
    )
    t.observe_extraction(failed)
    t.observe_extraction(
        Extraction(kind="invoice", model_version="llm-test", notes={})
    )  # the local extractor: not an LLM call
    assert value(t, "autoclerk_llm_tokens_total", type="prompt") == 120
    assert value(t, "autoclerk_llm_tokens_total", type="completion") == 30
    assert value(t, "autoclerk_llm_cost_usd_total") == pytest.approx(0.0005)
    assert value(t, "autoclerk_llm_extractions_total", cache="miss") == 1
    assert value(t, "autoclerk_llm_extractions_total", cache="hit") == 1
    assert value(t, "autoclerk_llm_errors_total", reason="llm_unavailable") == 1


def test_hooks_do_nothing_until_telemetry_is_installed() -> None:
    assert telemetry.active() is None
    with stage("decode"):
        telemetry.count_document(kind="invoice", outcome="approve")
    t = Telemetry()
    install(t)
    try:
        with stage("decode"):
            telemetry.count_document(kind="invoice", outcome="approve")
    finally:
        install(None)
    assert value(t, "autoclerk_documents_total", kind="invoice", outcome="approve") == 1
    assert value(t, "autoclerk_stage_seconds_count", stage="decode") == 1


def test_json_log_lines_carry_the_ids_of_their_own_document_only() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    try:
        configure_logging(LogSettings(format="json", level="INFO"))
        root.handlers[0].setStream(out)  # type: ignore[attr-defined]
        log = logging.getLogger("autoclerk.test")

        async def one(doc: str) -> None:
            bind_document(document_id=doc, correlation_id=f"c-{doc}")
            await asyncio.sleep(0)  # interleave the two documents
            log.info("working on it")

        async def both() -> None:
            await asyncio.gather(one("a"), one("b"))

        contextvars.copy_context().run(asyncio.run, both())
        log.info("between documents")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    about = {(x["document_id"], x["correlation_id"]) for x in lines if "document_id" in x}
    assert about == {("a", "c-a"), ("b", "c-b")}
    assert next(x for x in lines if x["message"] == "between documents").keys() == {
        "time",
        "level",
        "logger",
        "message",
    }
