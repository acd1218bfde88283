"""Model refs → loaded extractors, for `autoclerk eval --model` and the shadow.

A ref names an extractor version in the model registry (`agents.registry`):
`extractor@champion` (the active version; `@challenger` the one in shadow),
`extractor/3` (one version), `extractor/<folder>` (a version imported from the folder
layout, by its folder name), or an LLM spec `llm:MODEL[@BASE_URL]` (base URL defaults
to `llm.base_url`), which need not be registered.

`resolve_model` is the one function that turns a ref into something to load; loading
(`load_resolved`, `open_extractor`) is here, in the composition root, because an LLM
needs a client built from settings and a registry version's artifact is fetched into
this machine's cache first.

The API key (`llm.api_key`) is sent only to the configured `llm.base_url`: a spec
naming another server gets no key, so a typo on the command line cannot hand the key
to a stranger. The key is never printed, nor part of a version string.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from agents.errors import ModelUnloadable, RegistryError, UnknownModelRef
from agents.extract.llm import LlmExtractor
from agents.extract.pricing import PRICES_PER_MTOK
from agents.model_store import EXTRACTOR, unusable_reason
from agents.ports import Extractor
from agents.registry import Registry
from autoclerk.registry import registry_session
from infra.errors import LlmUnavailable
from infra.llm import OpenAiChatClient
from infra.settings import Settings
from schemas.registry import ModelVersion


@dataclass(frozen=True)
class ResolvedModel:
    ref: str
    source: Literal["local", "llm"]
    name: str  # "extractor"
    version: str  # the registry ref (extractor/3), or the model id of an unregistered LLM spec
    model: str | None = None  # the LLM model id
    path: Path | None = None  # the local artifact folder, fetched
    base_url: str | None = None


def _llm(settings: Settings, ref: str) -> ResolvedModel:
    model, _, base_url = ref.removeprefix("llm:").partition("@")
    if not model:
        raise UnknownModelRef(f"{ref!r}: an LLM spec is llm:MODEL[@BASE_URL]")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise UnknownModelRef(f"{ref!r}: the base URL must start with http:// or https://")
    url = base_url or settings.llm.base_url
    return ResolvedModel(ref=ref, source="llm", name="llm", version=model, model=model, base_url=url)


def _find(registry: Registry, ref: str) -> ModelVersion:
    name, slash, tail = ref.partition("/")
    if slash and tail and not tail.isdigit():  # a folder name from before the registry
        found = next((v for v in registry.versions(name) if v.lineage.get("legacy_folder") == tail), None)
        if found is None:
            raise UnknownModelRef(f"{ref!r}: no version {tail!r} of {name} (see `autoclerk models list`)")
        return found
    return registry.get(ref)


def resolve_model(settings: Settings, ref: str, *, registry: Registry) -> ResolvedModel:
    """What `ref` names, its artifact fetched; raises `UnknownModelRef` or `ModelUnloadable`."""
    ref = ref.strip()
    if ref.startswith("llm:"):
        return _llm(settings, ref)
    version = _find(registry, ref)
    if version.name != EXTRACTOR:
        raise UnknownModelRef(f"{ref!r}: only extractor versions read fields (got model {version.name!r})")
    if version.flavour == "llm":
        model = str(version.params.get("model") or "")
        return ResolvedModel(
            ref=ref,
            source="llm",
            name=version.name,
            version=version.ref,
            model=model,
            base_url=settings.llm.base_url,
        )
    try:
        path = registry.local_artifacts(version)
    except RegistryError as exc:
        raise ModelUnloadable(f"{ref!r}: {exc}") from exc
    return ResolvedModel(ref=ref, source="local", name=version.name, version=version.ref, path=path)


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
        model=resolved.model or resolved.version,
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
        raise ModelUnloadable(f"{resolved.ref} ({resolved.version}): this code cannot serve it: {reason}")
    try:
        return LocalExtractor.load(resolved.path)
    except Exception as exc:  # a corrupt pickle raises whatever its bytes lead to (KeyError …)
        raise ModelUnloadable(f"{resolved.ref} ({resolved.version}): cannot load it: {exc!r}") from exc


def load_resolved(settings: Settings, resolved: ResolvedModel) -> Extractor:
    """The extractor; an LLM one must be closed with `aclose()`."""
    return load_local(resolved) if resolved.source == "local" else llm_extractor(settings, resolved)


@contextmanager
def _registry(settings: Settings, registry: Registry | None) -> Iterator[Registry]:
    if registry is not None:
        yield registry
        return
    with registry_session(settings) as opened:
        yield opened


def open_registry_ref(settings: Settings, ref: str) -> ResolvedModel:
    """`resolve_model` for a one-off command: an LLM spec needs no database, a registry
    ref opens the registry for the lookup only."""
    if ref.strip().startswith("llm:"):
        return _llm(settings, ref.strip())
    with _registry(settings, None) as reg:
        return resolve_model(settings, ref, registry=reg)


@asynccontextmanager
async def open_extractor(
    settings: Settings, ref: str, *, registry: Registry | None = None
) -> AsyncIterator[tuple[ResolvedModel, Extractor]]:
    """The extractor `ref` names, loaded; an LLM client is closed when the block ends."""
    if ref.strip().startswith("llm:"):  # not a registry ref: no database needed
        resolved = _llm(settings, ref.strip())
    else:
        with _registry(settings, registry) as reg:
            resolved = resolve_model(settings, ref, registry=reg)
    extractor = load_resolved(settings, resolved)
    try:
        yield resolved, extractor
    finally:
        if isinstance(extractor, LlmExtractor):
            await extractor.aclose()
