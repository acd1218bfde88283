"""Build the LLM extractor from settings: the OpenAI-compatible adapter from infra,
the extractor from agents, and which adapter failures are worth retrying."""

from __future__ import annotations

from agents.extract.llm import LlmExtractor
from agents.extract.llm_cache import ExtractionCache
from infra.errors import LlmUnavailable
from infra.llm import OpenAiChatClient
from infra.settings import LlmSettings


def build_llm_extractor(
    settings: LlmSettings,
    *,
    cache: ExtractionCache | None = None,
    budget_s: float | None = None,
    reasoning: bool = True,
) -> LlmExtractor:
    """An `Extractor` over `settings.base_url`; close it with `await extractor.aclose()`.

    The budget bounds one document's time with the server across all its attempts;
    by default four request timeouts, so a slow server gets a few chances before the
    document goes to review.
    """
    if not settings.model:
        raise ValueError("settings.llm.model is not set: the LLM extractor is disabled")
    return LlmExtractor(
        client=OpenAiChatClient.from_settings(settings),
        model=settings.model,
        retry_on=(LlmUnavailable,),
        budget_s=budget_s if budget_s is not None else 4 * settings.timeout_s,
        max_concurrency=settings.max_concurrency,
        cache=cache,
        reasoning=reasoning,
    )
