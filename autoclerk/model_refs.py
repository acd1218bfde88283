"""Model refs → loaded extractors, for `autoclerk eval --model` and the shadow.

A ref names an extractor version: `extractor@champion` (an alias; `active` and
`current` mean the same today), `extractor/VERSION` (one version), or an LLM spec
`llm:MODEL[@BASE_URL]` (the base URL defaults to `llm.base_url`).

`resolve_model` is the one function that knows where versions live: today the
`models.dir` layout of `agents.model_store`; the model registry replaces its body,
nothing else. Loading (`open_extractor`) is here, in the composition root, because an
LLM needs a client built from settings.

The API key (`llm.api_key`) is sent only to the configured `llm.base_url`: a spec
naming another server gets no key, so a typo on the command line cannot hand the key
to a stranger. The key is never printed, nor part of a version string.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from agents.errors import ModelUnloadable, UnknownModelRef
from agents.extract.llm import LlmExtractor
from agents.extract.pricing import PRICES_PER_MTOK
from agents.model_store import EXTRACTOR, current, unusable_reason
from agents.ports import Extractor
from infra.errors import LlmUnavailable
from infra.llm import OpenAiChatClient
from infra.settings import Settings

ACTIVE_ALIASES = frozenset({"champion", "active", "current"})


@dataclass(frozen=True)
class ResolvedModel:
    ref: str
    source: Literal["local", "llm"]
    name: str  # "extractor" for local versions, "llm" for specs
    version: str  # the folder name of a local version; the model id of an LLM
    path: Path | None = None
    base_url: str | None = None


def _llm(settings: Settings, ref: str) -> ResolvedModel:
    spec = ref.removeprefix("llm:")
    model, _, base_url = spec.partition("@")
    if not model:
        raise UnknownModelRef(f"{ref!r}: an LLM spec is llm:MODEL[@BASE_URL]")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise UnknownModelRef(f"{ref!r}: the base URL must start with http:// or https://")
    return ResolvedModel(
        ref=ref, source="llm", name="llm", version=model, base_url=base_url or settings.llm.base_url
    )


def resolve_model(settings: Settings, ref: str) -> ResolvedModel:
    """What `ref` names, checked to exist; raises `UnknownModelRef` with the reason."""
    ref = ref.strip()
    if ref.startswith("llm:"):
        return _llm(settings, ref)
    name, alias, version = _split(ref)
    if name != EXTRACTOR:
        raise UnknownModelRef(f"{ref!r}: only extractor versions read fields (got model {name!r})")
    root = settings.models.dir / name
    if alias is not None:
        if alias not in ACTIVE_ALIASES:
            raise UnknownModelRef(f"{ref!r}: no alias {alias!r} (known: {', '.join(sorted(ACTIVE_ALIASES))})")
        path = current(settings.models.dir, name)
        if path is None:
            raise UnknownModelRef(f"{ref!r}: {name} has no active version in {root}")
    else:
        path = root / version
        if not path.is_dir() or version in ("", ".", "..") or "/" in version:
            raise UnknownModelRef(f"{ref!r}: no version {version!r} of {name} in {root}")
    return ResolvedModel(ref=ref, source="local", name=name, version=path.name, path=path)


def _split(ref: str) -> tuple[str, str | None, str]:
    if "@" in ref:
        name, _, alias = ref.partition("@")
        if name and alias:
            return name, alias, ""
    elif "/" in ref:
        name, _, version = ref.partition("/")
        if name and version:
            return name, None, version
    raise UnknownModelRef(
        f"{ref!r}: a model ref is NAME@ALIAS (extractor@champion), NAME/VERSION (extractor/<version>) "
        "or llm:MODEL[@BASE_URL]"
    )


def prices(settings: Settings) -> Mapping[str, tuple[Decimal, Decimal]]:
    """The built-in price table with the settings' entries over it."""
    return {**PRICES_PER_MTOK, **settings.llm.prices_per_mtok}


def llm_extractor(settings: Settings, resolved: ResolvedModel) -> LlmExtractor:
    key = settings.llm.api_key if resolved.base_url == settings.llm.base_url else None
    client = OpenAiChatClient(
        base_url=resolved.base_url,
        api_key=key.get_secret_value() if key else None,
        timeout_s=settings.llm.timeout_s,
    )
    return LlmExtractor(
        client=client,
        model=resolved.version,
        retry_on=(LlmUnavailable,),
        budget_s=4 * settings.llm.timeout_s,
        max_concurrency=settings.llm.max_concurrency,
        prices=prices(settings),
    )


def load_local(resolved: ResolvedModel) -> Extractor:
    # imported here: scikit-learn's start-up is paid only when a local model is scored
    from agents.extract.local import LocalExtractor

    assert resolved.path is not None
    reason = unusable_reason(resolved.name, resolved.path)
    if reason is not None:
        raise ModelUnloadable(f"{resolved.ref}: this code cannot serve {resolved.path.name}: {reason}")
    try:
        return LocalExtractor.load(resolved.path)
    except Exception as exc:  # a corrupt pickle raises whatever its bytes lead to (KeyError …)
        raise ModelUnloadable(f"{resolved.ref}: cannot load {resolved.path.name}: {exc}") from exc


@asynccontextmanager
async def open_extractor(settings: Settings, ref: str) -> AsyncIterator[tuple[ResolvedModel, Extractor]]:
    """The extractor `ref` names, loaded; an LLM client is closed when the block ends."""
    resolved = resolve_model(settings, ref)
    if resolved.source == "local":
        yield resolved, load_local(resolved)
        return
    extractor = llm_extractor(settings, resolved)
    try:
        yield resolved, extractor
    finally:
        await extractor.aclose()
