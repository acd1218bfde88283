"""OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp server) for extraction.

Implements the `ChatClient` shape that `agents.extract.llm` declares: one request
with a strict JSON-schema response format and token logprobs, answered as our
`schemas.llm.Completion`. The client's own retries are off: the extractor retries
`LlmUnavailable` within its time budget, and two retry layers would multiply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import openai
from openai import AsyncOpenAI, DefaultAioHttpClient

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
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=0,
            # aiohttp under the SDK, not httpx's pool: that pool checks every
            # connection it holds (a socket poll each) to place each request, so at 64
            # in flight it was an eighth of a worker's GIL time on the LLM path; client
            # CPU per document 2.34 -> 1.81 ms (bench/extract_llm.py --concurrency 64)
            http_client=DefaultAioHttpClient(),
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
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "strict": True, "schema": json_schema},
        }
        body: dict[str, Any] = {
            "model": model,
            "messages": [dict(m) for m in messages],
            "response_format": response_format,
            "logprobs": self._logprobs,
            "temperature": 0,
        }
        if self._max_tokens is not None:
            body["max_completion_tokens"] = self._max_tokens
        try:
            # The SDK's plain `post` (its documented way to send any request): the same
            # client, timeouts and error mapping, without `create`'s work per request.
            # That walked every message and the JSON schema against the SDK's
            # TypedDicts (a tenth of a worker's GIL time on the LLM path, bench/
            # service.py --llm-latency-ms) and built the SDK's models for every token
            # logprob; bytes come back, parsed once below.
            content = await self._client.post("/chat/completions", body=body, cast_to=bytes)
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise LlmUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:
            status = exc.status_code
            if status in _RETRYABLE_STATUS or status >= 500:
                raise LlmUnavailable(
                    f"HTTP {status}: {exc.message}", status=status, retry_after_s=_retry_after(exc)
                ) from exc
            raise LlmRequestRejected(f"HTTP {status}: {exc.message}", status=status) from exc
        try:
            return _completion(json.loads(content))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # a proxy's error page or a truncated body: the server side may recover
            raise LlmUnavailable(f"unreadable response body: {exc!r}"[:500]) from exc


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: rare from these servers, fall back to backoff
        return None


def _completion(body: dict[str, Any]) -> Completion:
    choice = body["choices"][0]
    message = choice["message"]
    tokens = None
    content_logprobs = (choice.get("logprobs") or {}).get("content")
    if content_logprobs:
        tokens = tuple(
            TokenLogprob(t["token"], float(t["logprob"]), tuple(t["bytes"]) if t.get("bytes") else None)
            for t in content_logprobs
        )
    usage = None
    if body.get("usage"):
        u = body["usage"]
        cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        usage = TokenUsage(int(u["prompt_tokens"]), int(u["completion_tokens"]), int(cached))
    return Completion(
        content=message.get("content"),
        refusal=message.get("refusal"),
        finish_reason=choice.get("finish_reason"),
        logprobs=tokens,
        usage=usage,
        model=body.get("model"),
    )
