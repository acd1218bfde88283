"""What a completion costs, from a per-model price table.

Prices are US dollars per million tokens (input, output), OpenAI's list prices for
standard processing when this table was written; fine-tuned models are billed at
their own rates. Pass your own table to `LlmExtractor(prices=...)` for another
provider or a contract price. A model we cannot price costs None, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from schemas.llm import TokenUsage

# (input, output) USD per 1M tokens
PRICES_PER_MTOK: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.40")),
    "ft:gpt-4o": (Decimal("3.75"), Decimal("15.00")),
    "ft:gpt-4o-mini": (Decimal("0.30"), Decimal("1.20")),
    "ft:gpt-4.1": (Decimal("3.00"), Decimal("12.00")),
    "ft:gpt-4.1-mini": (Decimal("0.80"), Decimal("3.20")),
    "ft:gpt-4.1-nano": (Decimal("0.20"), Decimal("0.80")),
}

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_MILLION = Decimal(1_000_000)


def price_key(model: str) -> str:
    """`ft:gpt-4o-mini-2024-07-18:org::abc` → `ft:gpt-4o-mini`; `gpt-4o-2024-08-06` → `gpt-4o`."""
    if model.startswith("ft:"):
        base = model[3:].split(":", 1)[0]
        return "ft:" + _SNAPSHOT.sub("", base)
    return _SNAPSHOT.sub("", model)


def cost_usd(
    *, model: str, usage: TokenUsage | None, prices: Mapping[str, tuple[Decimal, Decimal]] = PRICES_PER_MTOK
) -> Decimal | None:
    if usage is None:
        return None
    price = prices.get(model) or prices.get(price_key(model))
    if price is None:
        return None
    return (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / _MILLION
