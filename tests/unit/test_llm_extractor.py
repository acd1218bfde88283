"""LlmExtractor policy with a fake chat client: retries, budget, concurrency,
single flight, caching, validation. The HTTP path is in tests/integration."""

from __future__ import annotations

import asyncio
import json

import pytest

from agents.extract.llm import ChatClient, LlmExtractor
from agents.extract.llm_cache import LayeredCache, LruExtractionCache
from agents.ports import Extractor
from schemas.document import Document
from schemas.fields import INVOICE_FIELDS, Extraction
from schemas.llm import Completion, TokenUsage
from tests.fakes import FakeChatClient

DOC = Document.from_text(
    document_id="inv-1",
    kind="invoice",
    text="ACME SUPPLIES LTD\nInvoice INV-7\nDate 09/01/2019\nTotal $ 1,250.00",
)


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


def completion(values: dict[str, str | None], **kw: object) -> Completion:
    answer = {"reasoning": "header", "fields": {n: values.get(n) for n in INVOICE_FIELDS}}
    usage = TokenUsage(prompt_tokens=400, completion_tokens=60)
    return Completion(content=json.dumps(answer), finish_reason="stop", usage=usage, **kw)  # type: ignore[arg-type]


GOOD = completion({"vendor_name": "ACME SUPPLIES LTD", "issue_date": "09/01/2019", "total": "$ 1,250.00"})


def extractor(client: FakeChatClient, **kw: object) -> LlmExtractor:
    options: dict[str, object] = {
        "client": client,
        "model": "gpt-4o-mini",
        "retry_on": (Transient,),
        "backoff_initial_s": 0.001,
        "backoff_max_s": 0.002,
        "budget_s": 5.0,
    }
    return LlmExtractor(**{**options, **kw})  # type: ignore[arg-type]


def test_the_extractor_and_the_fake_meet_their_interfaces() -> None:
    assert isinstance(FakeChatClient(GOOD), ChatClient)
    assert isinstance(extractor(FakeChatClient(GOOD)), Extractor)


async def test_transient_errors_are_retried_and_counted() -> None:
    client = FakeChatClient(Transient("429"), Transient("503"), GOOD)
    result = await extractor(client).extract(DOC)
    assert result.failure is None
    assert len(client.calls) == 3
    assert result.notes["attempts"] == "3"
    assert result.value("total") == "1250.00"
    assert result.notes["cost_usd"] == f"{(400 * 0.15 + 60 * 0.60) / 1e6:.8f}"


async def test_a_permanent_error_fails_at_once_and_attempts_stop_at_the_limit() -> None:
    client = FakeChatClient(Permanent("401 bad key"))
    result = await extractor(client).extract(DOC)
    assert result.failure is not None and result.failure.startswith("llm_error: Permanent")
    assert len(client.calls) == 1 and not result.fields

    client = FakeChatClient(Transient("503"))
    result = await extractor(client, max_attempts=4).extract(DOC)
    assert result.failure is not None and result.failure.startswith("llm_unavailable")
    assert len(client.calls) == 4


async def test_the_total_budget_bounds_a_hanging_server() -> None:
    client = FakeChatClient(GOOD, delay_s=30)
    result = await extractor(client, budget_s=0.2).extract(DOC)
    assert result.failure == "llm_unavailable: no answer within 0.2s (1 attempts)"


async def test_requests_in_flight_never_exceed_the_limit() -> None:
    client = FakeChatClient(GOOD, delay_s=0.02)
    ex = extractor(client, max_concurrency=3)
    docs = [
        DOC.model_copy(
            update={
                "lines": [
                    *DOC.lines,
                    *Document.from_text(document_id="x", kind="invoice", text=f"ref {i}").lines,
                ]
            }
        )
        for i in range(10)
    ]
    results = await asyncio.gather(*(ex.extract(d) for d in docs))
    assert all(r.failure is None for r in results)
    assert client.peak == 3 and len(client.calls) == 10


async def test_the_same_content_is_paid_for_once_even_when_concurrent() -> None:
    client = FakeChatClient(GOOD, delay_s=0.02)
    ex = extractor(client)
    copies = [DOC.model_copy(update={"document_id": f"redelivery-{i}"}) for i in range(5)]
    results = await asyncio.gather(*(ex.extract(d) for d in copies))
    assert len(client.calls) == 1
    assert {r.value("total") for r in results} == {"1250.00"}
    again = await ex.extract(DOC)
    assert len(client.calls) == 1
    assert again.notes["cache"] == "hit" and again.notes["cost_usd"] == "0"


async def test_failures_are_not_cached() -> None:
    client = FakeChatClient(Permanent("boom"), GOOD)
    ex = extractor(client)
    assert (await ex.extract(DOC)).failure is not None
    assert (await ex.extract(DOC)).failure is None
    assert len(client.calls) == 2


async def test_values_are_normalised_validated_and_checked_against_the_page() -> None:
    client = FakeChatClient(
        completion(
            {
                "vendor_name": "ACME GLOBAL HOLDINGS",  # not printed anywhere
                "issue_date": "31/31/2019",  # no such date
                "total": "$ 1,250.00",
                "invoice_number": "INV-7",
            }
        )
    )
    result = await extractor(client).extract(DOC)
    assert result.failure is None
    assert result.notes["confidence_source"] == "fallback"
    assert result.fields["issue_date"].value is None
    assert result.fields["issue_date"].raw == "31/31/2019"
    assert result.fields["issue_date"].confidence == 0.0
    assert result.fields["vendor_name"].confidence == pytest.approx(0.25)
    assert result.fields["total"].confidence == pytest.approx(0.5)
    assert result.fields["invoice_number"].source is not None
    assert result.fields["invoice_number"].source.line == 1
    assert result.notes["invalid_fields"] == "issue_date"
    assert result.notes["ungrounded_fields"] == "vendor_name"
    assert "reasoning" not in result.fields and result.notes["reasoning"] == "header"


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Completion(content=None, refusal="I can't help with that."), "llm_refused: I can't help with that."),
        (Completion(content='{"reasoning": "x", "fie', finish_reason="length"), "llm_incomplete"),
        (Completion(content='{"fields": {}}'), "llm_invalid_output"),
    ],
)
async def test_answers_we_cannot_trust_become_failures(outcome: Completion, reason: str) -> None:
    result = await extractor(FakeChatClient(outcome)).extract(DOC)
    assert result.failure is not None and result.failure.startswith(reason)
    assert not result.fields


async def test_an_empty_document_costs_no_request() -> None:
    client = FakeChatClient(GOOD)
    empty = Document(document_id="e", kind="invoice", lines=[])
    result = await extractor(client).extract(empty)
    assert result.failure is not None and not client.calls


async def test_a_value_counts_as_printed_only_as_whole_words() -> None:
    page = Document.from_text(document_id="p", kind="invoice", text="Dated 2024-01-05\nTOTAL USD 1,250.00")
    client = FakeChatClient(completion({"total": "0", "tax": "1,250.00", "issue_date": "2024-01-05"}))
    result = await extractor(client).extract(page)
    assert result.fields["total"].confidence == pytest.approx(0.25)  # "0" only inside other numbers
    assert result.fields["tax"].confidence == pytest.approx(0.5)
    assert result.fields["issue_date"].confidence == pytest.approx(0.5)
    assert result.notes["ungrounded_fields"] == "total"


def test_backoff_waits_at_least_what_the_server_asked_for() -> None:
    from tenacity import RetryCallState

    from agents.extract.llm import _Backoff

    class RateLimited(Exception):
        retry_after_s = 2.0

    backoff = _Backoff(initial_s=0.001, max_s=0.002)
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.set_exception((RateLimited, RateLimited(), None))
    assert backoff(state) == 2.0
    state.set_exception((Transient, Transient(), None))
    assert 0 <= backoff(state) <= 0.002


class BrokenStore:
    """A durable cache whose database went down between the lookup and the store."""

    async def get(self, key: str) -> Extraction | None:
        return None

    async def put(self, key: str, extraction: Extraction) -> None:
        raise Transient("database unavailable")


async def test_a_failing_durable_cache_raises_but_keeps_the_paid_answer_in_process() -> None:
    client = FakeChatClient(GOOD)
    front = LruExtractionCache()
    llm = extractor(client, cache=LayeredCache(front=front, back=BrokenStore()))
    with pytest.raises(Transient):  # for the stream edge to retry, as the runtime declares
        await llm.extract(DOC)
    assert len(client.calls) == 1 and len(front) == 1  # the retry in this process will not pay again
