"""OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp server) for extraction.

Implements the `ChatClient` shape that `agents.extract.llm` declares: one request
with a strict JSON-schema response format and token logprobs, answered as our
`schemas.llm.Completion`. The client's own retries are off: the extractor retries
`LlmUnavailable` within its time budget, and two retry layers would multiply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import openai
from openai import AsyncOpenAI

from infra.errors import LlmRequestRejected, LlmUnavailable
from infra.settings import LlmSettings
from schemas.llm import Completion, TokenLogprob, TokenUsage

# Statuses the OpenAI client itself treats as transient.
_RETRYABLE_STATUS = frozenset({408, 409, 429})


class OpenAiChatClient:
    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout_s: float,
        logprobs: bool = True,
        max_completion_tokens: int | None = 2048,
    ) -> None:
        # Local servers need no key, but the client refuses to start without one.
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
        )
        self._logprobs = logprobs
        self._max_tokens = max_completion_tokens

    @classmethod
    def from_settings(cls, settings: LlmSettings) -> OpenAiChatClient:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return cls(base_url=settings.base_url, api_key=key, timeout_s=settings.timeout_s)

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(
        self,
        *,
        messages: Sequence[Mapping[str, str]],
        schema_name: str,
        json_schema: Mapping[str, Any],
        model: str,
    ) -> Completion:
        # plain dicts are what the SDK sends; its TypedDicts only narrow them for editors
        request_messages: Any = [dict(m) for m in messages]
        response_format: Any = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "strict": True, "schema": dict(json_schema)},
        }
        try:
            response = await self._client.chat.completions.create(
                model=model,
                messages=request_messages,
                response_format=response_format,
                logprobs=self._logprobs,
                temperature=0,
                max_completion_tokens=self._max_tokens,
            )
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise LlmUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:
            status = exc.status_code
            if status in _RETRYABLE_STATUS or status >= 500:
                raise LlmUnavailable(
                    f"HTTP {status}: {exc.message}", status=status, retry_after_s=_retry_after(exc)
                ) from exc
            raise LlmRequestRejected(f"HTTP {status}: {exc.message}", status=status) from exc
        if not response.choices:
            raise LlmUnavailable("the server answered with no choices")
        return _completion(response)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: rare from these servers, fall back to backoff
        return None


def _completion(response: Any) -> Completion:
    choice = response.choices[0]
    tokens = None
    if choice.logprobs is not None and choice.logprobs.content:
        tokens = tuple(
            TokenLogprob(token=t.token, logprob=t.logprob, bytes=tuple(t.bytes) if t.bytes else None)
            for t in choice.logprobs.content
        )
    usage = None
    if response.usage is not None:
        details = response.usage.prompt_tokens_details
        usage = TokenUsage(
            prompt_tokens=response.usage.prompt_tokens,
            completion_tokens=response.usage.completion_tokens,
            cached_prompt_tokens=(details.cached_tokens or 0) if details else 0,
        )
    return Completion(
        content=choice.message.content,
        refusal=getattr(choice.message, "refusal", None),
        finish_reason=choice.finish_reason,
        logprobs=tokens,
        usage=usage,
        model=response.model,
    )
