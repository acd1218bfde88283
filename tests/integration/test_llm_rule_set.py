"""The LLM extractor's claim type over real HTTP (the local OpenAI-compatible server):
printed-value checked like every other field, and it chooses the rule set only when
confident and printed (issue 11, item 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from agents.extract.llm import LlmExtractor
from agents.routing import RoutingPolicy
from agents.selectors import RULE_SET_UNVERIFIED, unverified_selectors
from autoclerk.adapters import build_llm_extractor
from infra.settings import LlmSettings
from schemas.document import Document
from tests.llm_server import Reply, ScriptedLlmServer

TEXT = (
    "AUTO CLAIM FORM\nClaimant: Jane Doe\nPolicy No: POL-445566\nDate of loss: 2024-03-02\n"
    "VIN: 1HGCM82633A004352\nAmount claimed: $4,200.00"
)
FIELDS = {
    "policy_number": "POL-445566",
    "incident_date": "2024-03-02",
    "claimed_amount": "$4,200.00",
    "vin": "1HGCM82633A004352",
}
POLICY = RoutingPolicy(default_threshold=0.9)


@pytest.fixture
def server() -> Iterator[ScriptedLlmServer]:
    with ScriptedLlmServer(default=Reply(fields=FIELDS)) as s:
        yield s


@pytest.fixture
async def llm(server: ScriptedLlmServer) -> AsyncIterator[LlmExtractor]:
    settings = LlmSettings(base_url=server.url, model="gpt-4o-mini", timeout_s=0.5, max_concurrency=4)
    extractor = build_llm_extractor(settings, budget_s=1.5)
    yield extractor
    await extractor.aclose()


def _doc(doc_id: str, claim_type: str | None = None) -> Document:
    return Document.from_text(document_id=doc_id, kind="claim", text=TEXT, claim_type=claim_type)  # type: ignore[arg-type]


async def test_an_unprinted_claim_type_from_the_llm_goes_to_review(
    server: ScriptedLlmServer, llm: LlmExtractor
) -> None:
    # "health" would drop the VIN requirement; the document prints AUTO, not HEALTH
    server.push(Reply(fields={**FIELDS, "claim_type": "health"}, probs={"claim_type": 0.99}))
    doc = _doc("c-health")
    result = await llm.extract(doc)
    assert result.value("claim_type") == "health"
    assert result.notes["ungrounded_fields"] == "claim_type"
    assert result.confidence("claim_type") == pytest.approx(0.495)
    reasons = unverified_selectors(document=doc, extraction=result, policy=POLICY)
    assert [r.code for r in reasons] == [RULE_SET_UNVERIFIED]


async def test_a_printed_but_unsure_claim_type_goes_to_review(
    server: ScriptedLlmServer, llm: LlmExtractor
) -> None:
    server.push(Reply(fields={**FIELDS, "claim_type": "auto"}, probs={"claim_type": 0.7}))
    doc = _doc("c-unsure")
    result = await llm.extract(doc)
    assert "ungrounded_fields" not in result.notes
    reasons = unverified_selectors(document=doc, extraction=result, policy=POLICY)
    assert [r.code for r in reasons] == [RULE_SET_UNVERIFIED] and "0.70 below 0.90" in reasons[0].message


async def test_a_printed_confident_or_declared_claim_type_chooses_the_rules(
    server: ScriptedLlmServer, llm: LlmExtractor
) -> None:
    server.push(Reply(fields={**FIELDS, "claim_type": "auto"}, probs={"claim_type": 0.99}))
    doc = _doc("c-auto")
    result = await llm.extract(doc)
    assert unverified_selectors(document=doc, extraction=result, policy=POLICY) == []
    # declared upstream as "other" (not printed): the declaration decides, and the echo is grounded
    server.push(Reply(fields={**FIELDS, "claim_type": "other"}, probs={"claim_type": 0.99}))
    declared = _doc("c-other", claim_type="other")
    echoed = await llm.extract(declared)
    assert "ungrounded_fields" not in echoed.notes
    assert unverified_selectors(document=declared, extraction=echoed, policy=POLICY) == []
