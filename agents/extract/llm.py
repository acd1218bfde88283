"""The LLM field extractor: an OpenAI-compatible chat model with structured outputs.

One document is one request: a system message (the process, the mandatory fields,
"the document is data"), the document as JSON in a user message, and a strict JSON
schema that admits only field values (plus a short `reasoning` written first, kept
in `Extraction.notes`, never in `fields`). Values are normalised and checked against
the page by `llm_fields`; confidences come from token logprobs (`llm_confidence`).

Failures never raise and never guess: a model that is unreachable after retries,
refuses, truncates or answers outside the schema yields an `Extraction` with
`failure` set, which routes the document to review. Retries (jittered exponential
backoff) apply to the exception types the composition root names as retryable,
within a total time budget per document; a semaphore bounds requests in flight.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from agents.extract import prompts
from agents.extract.llm_cache import ExtractionCache, LruExtractionCache
from agents.extract.llm_confidence import field_probabilities
from agents.extract.llm_fields import build_fields
from agents.extract.llm_schema import answer_model, response_schema
from agents.extract.pricing import PRICES_PER_MTOK, cost_usd
from schemas.document import Document, content_hash
from schemas.fields import DocumentKind, Extraction, field_names
from schemas.llm import Completion

# Without logprobs a value's confidence is this constant (times the validators'
# verdict): below the default routing threshold (0.9), so answers from servers
# that return no logprobs always meet a person until thresholds are fitted on them.
NO_LOGPROBS_CONFIDENCE = 0.5
_MAX_NOTE = 2000
UNAVAILABLE = "llm_unavailable"
"""Failure prefix when the server gave no usable answer in time: worth trying again
later (agents.llm_retry), unlike a refusal or an answer outside the schema."""


@runtime_checkable
class ChatClient(Protocol):
    """One chat completion with a strict JSON-schema response format.

    Implementations raise on transport failures; which of their exceptions are
    worth retrying is told to `LlmExtractor(retry_on=...)` by the composition root.
    """

    async def complete(
        self,
        *,
        messages: Sequence[Mapping[str, str]],
        schema_name: str,
        json_schema: Mapping[str, Any],
        model: str,
    ) -> Completion: ...

    async def aclose(self) -> None: ...


class _Backoff:
    """Full-jitter exponential backoff that waits at least what the server asked for."""

    def __init__(self, *, initial_s: float, max_s: float) -> None:
        self._jitter = wait_random_exponential(multiplier=initial_s, max=max_s)

    def __call__(self, state: RetryCallState) -> float:
        wait = self._jitter(state)
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after_s", None)
        return max(wait, float(asked)) if isinstance(asked, int | float) else wait


class LlmExtractor:
    """Implements `agents.ports.Extractor` over a `ChatClient`."""

    def __init__(
        self,
        *,
        client: ChatClient,
        model: str,
        retry_on: tuple[type[BaseException], ...] = (),
        budget_s: float = 60.0,
        max_attempts: int = 6,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 8.0,
        max_concurrency: int = 16,
        cache: ExtractionCache | None = None,
        reasoning: bool = True,
        prices: Mapping[str, tuple[Decimal, Decimal]] = PRICES_PER_MTOK,
        no_logprobs_confidence: float = NO_LOGPROBS_CONFIDENCE,
    ) -> None:
        if budget_s <= 0 or max_attempts < 1 or max_concurrency < 1:
            raise ValueError("budget_s, max_attempts and max_concurrency must be positive")
        self._client = client
        self._model = model
        self._retry_on = retry_on
        self._budget_s = budget_s
        self._max_attempts = max_attempts
        self._backoff = _Backoff(initial_s=backoff_initial_s, max_s=backoff_max_s)
        self._slots = asyncio.Semaphore(max_concurrency)
        self._cache: ExtractionCache = cache if cache is not None else LruExtractionCache()
        self._reasoning = reasoning
        self._prices = prices
        self._fallback = no_logprobs_confidence
        self._schemas = {kind: response_schema(kind, reasoning=reasoning) for kind in ("invoice", "claim")}
        version = prompts.prompt_version(dict(self._schemas), reasoning=reasoning)
        self._version = f"llm:{model}:{version}"
        self._inflight: dict[str, asyncio.Future[Extraction]] = {}

    @property
    def version(self) -> str:
        return self._version

    async def aclose(self) -> None:
        await self._client.aclose()

    def cache_key(self, document: Document) -> str:
        """Same version, kind and text → same answer; ids and metadata do not matter."""
        body = {
            "version": self._version,
            "kind": document.kind,
            "claim_type": document.claim_type,
            "lines": [line.text for line in document.lines],
        }
        return content_hash(json.dumps(body, ensure_ascii=False, sort_keys=True).encode())

    async def extract(self, document: Document) -> Extraction:
        if not document.lines:
            return self._failed(document.kind, "llm_skipped: document has no text lines", {})
        key = self.cache_key(document)
        # Not a model failure: a cache's own errors (its database down) propagate, for
        # the stream edge to retry the message as the composition root classifies them.
        hit = await self._cache.get(key)
        if hit is not None:
            # this delivery cost nothing: the original call's tokens were counted once
            paid = {"cost_usd": "0", "prompt_tokens": "0", "completion_tokens": "0"}
            notes = {**hit.notes, **paid, "cache": "hit"}
            return hit.model_copy(update={"notes": notes})
        running = self._inflight.get(key)
        if running is not None:  # the same content is being paid for right now: share it
            return await asyncio.shield(running)
        future: asyncio.Future[Extraction] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            extraction = await self._extract_uncached(document)
            if extraction.failure is None:
                await self._cache.put(key, extraction)
            future.set_result(extraction)
            return extraction
        except BaseException as exc:  # cancellation: waiters must not hang
            future.set_exception(exc)
            future.exception()  # consumed here; waiters re-raise their own copy
            raise
        finally:
            del self._inflight[key]

    async def _extract_uncached(self, document: Document) -> Extraction:
        name, schema = self._schemas[document.kind]
        messages = prompts.messages(document, reasoning=self._reasoning)
        attempts = 0
        async with self._slots:
            try:
                async with asyncio.timeout(self._budget_s):
                    async for attempt in self._retrying():
                        with attempt:
                            attempts += 1
                            completion = await self._client.complete(
                                messages=messages, schema_name=name, json_schema=schema, model=self._model
                            )
            except TimeoutError:
                return self._failed(
                    document.kind,
                    f"{UNAVAILABLE}: no answer within {self._budget_s:g}s ({attempts} attempts)",
                    {"attempts": str(attempts)},
                )
            except Exception as exc:  # permanent or retries exhausted: a person decides
                kind = UNAVAILABLE if isinstance(exc, self._retry_on) else "llm_error"
                return self._failed(
                    document.kind,
                    f"{kind}: {type(exc).__name__}: {exc}"[:_MAX_NOTE],
                    {"attempts": str(attempts)},
                )
        return self._parse(document, completion, attempts=attempts)

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception_type(self._retry_on),
            stop=stop_after_attempt(self._max_attempts) | stop_before_delay(self._budget_s),
            wait=self._backoff,
            reraise=True,
        )

    def _parse(self, document: Document, completion: Completion, *, attempts: int) -> Extraction:
        notes = self._usage_notes(completion, attempts=attempts)
        if completion.refusal:
            return self._failed(document.kind, f"llm_refused: {completion.refusal}"[:_MAX_NOTE], notes)
        if completion.finish_reason not in (None, "stop"):
            return self._failed(
                document.kind, f"llm_incomplete: finish_reason={completion.finish_reason}", notes
            )
        content = completion.content or ""
        try:
            answer = answer_model(document.kind, reasoning=self._reasoning).model_validate_json(content)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
            )
            return self._failed(document.kind, f"llm_invalid_output: {problems}"[:_MAX_NOTE], notes)
        names = field_names(document.kind)
        raw_values: dict[str, str | None] = {n: getattr(answer.fields, n) for n in names}  # type: ignore[attr-defined]
        probabilities = field_probabilities(content=content, tokens=completion.logprobs, names=names)
        fields, report = build_fields(
            document=document,
            raw_values=raw_values,
            probabilities=probabilities,
            fallback_confidence=self._fallback,
        )
        notes["confidence_source"] = "logprobs" if probabilities is not None else "fallback"
        if self._reasoning:
            notes["reasoning"] = str(answer.reasoning)[:_MAX_NOTE]  # type: ignore[attr-defined]
        if report.invalid:
            notes["invalid_fields"] = ",".join(report.invalid)
        if report.ungrounded:
            notes["ungrounded_fields"] = ",".join(report.ungrounded)
        return Extraction(kind=document.kind, fields=fields, model_version=self._version, notes=notes)

    def _usage_notes(self, completion: Completion, *, attempts: int) -> dict[str, str]:
        notes = {"cache": "miss", "attempts": str(attempts), "model": completion.model or self._model}
        usage = completion.usage
        if usage is not None:
            notes["prompt_tokens"] = str(usage.prompt_tokens)
            notes["completion_tokens"] = str(usage.completion_tokens)
            notes["cached_prompt_tokens"] = str(usage.cached_prompt_tokens)
        cost = cost_usd(model=self._model, usage=usage, prices=self._prices)
        if cost is not None:
            notes["cost_usd"] = f"{cost:.8f}"
        return notes

    def _failed(self, kind: DocumentKind, reason: str, notes: dict[str, str]) -> Extraction:
        return Extraction(kind=kind, model_version=self._version, failure=reason, notes=notes)
