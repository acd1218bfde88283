"""What a chat-completion call returns, in our words.

The extractor (agents) declares the client interface and the adapter (infra) speaks
HTTP to an OpenAI-compatible server; both sides need this shape, and infra may
import only schemas, so it lives here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TokenLogprob(BaseModel):
    """One generated token and its log probability under the model."""

    model_config = ConfigDict(frozen=True)

    token: str
    logprob: float
    bytes: tuple[int, ...] | None = Field(
        default=None, description="UTF-8 bytes of the token; tokens may split a character"
    )


class TokenUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cached_prompt_tokens: int = Field(default=0, ge=0)


class Completion(BaseModel):
    """The first choice of one chat completion.

    `logprobs` is None when the server does not return them (llama.cpp and some
    gateways ignore the request), and the caller must cope.
    """

    model_config = ConfigDict(frozen=True)

    content: str | None
    refusal: str | None = None
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    usage: TokenUsage | None = None
    model: str | None = Field(default=None, description="the model that answered, as the server names it")
