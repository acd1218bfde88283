"""The LLM stand-in the benchmarks run: `tests/llm_server.py` in its own process,
answering each document as a good model would, after a fixed latency.

A stand-in that answered every field null sent every document to review, so the
benchmark measured only the review path. This one answers each field as printed
(the local extractor's pick, its raw text: what the grounding check expects), so the
documents split between straight through and review as real ones do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.decode import parse_document
from autoclerk.bootstrap import open_runtime
from autoclerk.samples import received_event
from infra.db.engine import migrate
from infra.settings import Settings
from schemas.document import LabelledDocument

LLM_MODEL = "gpt-4o-mini"


async def printed_answers(settings: Settings, docs: Sequence[LabelledDocument]) -> dict[str, Any]:
    """{document id: {field: value as printed}} from the local extractor."""
    migrate(settings.db.url)
    async with open_runtime(settings) as runtime:
        extractor, parse_pdf = runtime.adapters.extractor, runtime.adapters.parse_pdf
        out = {}
        for d in docs:
            ext = await extractor.extract(parse_document(received_event(d).payload, parse_pdf=parse_pdf))
            out[d.document_id] = {k: f.raw or f.value for k, f in ext.fields.items()}
        return out


@dataclass(frozen=True)
class StandIn:
    url: str
    pid: int
    """The server's process, whose CPU the benchmarks report apart from the workers'."""


@contextmanager
def llm_server(*, latency_ms: float, answers: dict[str, Any], tmp: Path) -> Iterator[StandIn]:
    """The stand-in while it runs."""
    path = tmp / "llm-answers.json"
    path.write_text(json.dumps(answers))
    cmd = ["-m", "tests.llm_server", "--latency-ms", str(latency_ms), "--answers", str(path)]
    proc = subprocess.Popen([sys.executable, *cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        yield StandIn(url=proc.stdout.readline().strip(), pid=proc.pid)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def llm_env(url: str, *, concurrency: int) -> dict[str, str]:
    """The worker settings that make the extractor the LLM one, against `url`."""
    return {
        "AUTOCLERK_LLM__BASE_URL": url,
        "AUTOCLERK_LLM__MODEL": LLM_MODEL,
        "AUTOCLERK_LLM__MAX_CONCURRENCY": str(concurrency),
        "AUTOCLERK_LLM__RETRY_WINDOW_S": "0",
    }
