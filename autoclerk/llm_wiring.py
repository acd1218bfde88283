"""Build the LLM extractor from settings: the OpenAI-compatible adapter from infra,
the extractor from agents, which adapter failures are worth retrying, and the cache
of answers (this process's LRU in front of the database table all workers share)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from agents.extract.llm import LlmExtractor
from agents.extract.llm_cache import ExtractionCache, LayeredCache, LruExtractionCache
from infra.errors import LlmUnavailable
from infra.llm import OpenAiChatClient
from infra.llm_cache import SqlExtractionCache
from infra.settings import LlmSettings


def layered_cache(*, engine: AsyncEngine, max_entries: int = 10_000) -> ExtractionCache:
    """Recent answers in memory; every answer in `llm_extractions` on `engine`, so a
    replay after a restart or on another worker process is not paid for again."""
    return LayeredCache(
        front=LruExtractionCache(max_entries=max_entries), back=SqlExtractionCache(engine=engine)
    )


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
