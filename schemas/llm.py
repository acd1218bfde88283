"""What a chat-completion call returns, in our words.

The extractor (agents) declares the client interface and the adapter (infra) speaks
HTTP to an OpenAI-compatible server; both sides need this shape, and infra may
import only schemas, so it lives here. Plain frozen dataclasses, not Pydantic: the
SDK has validated the response already, and an answer carries a record per token
(re-validating them was the largest client cost in bench/extract_llm.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token and its log probability under the model.

    `bytes` are the token's UTF-8 bytes when the server gives them: a token may
    end inside a character, and then `token` alone cannot place it on the text.
    """

    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Completion:
    """The first choice of one chat completion.

    `logprobs` is None when the server does not return them (llama.cpp and some
    gateways ignore the request), and the caller must cope. `model` is the model
    that answered, as the server names it.
    """

    content: str | None
    refusal: str | None = None
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    usage: TokenUsage | None = None
    model: str | None = None
