"""Wiring for `autoclerk replay`: the serving adapters or a shadow candidate, the store,
the producer; then `agents.replay_plan.plan` and `agents.replay_drive.drive`.

Where a replay's input comes from: the `documents` row, not the original message. It
keeps everything the workflow reads (every line's text, the boxes and page sizes, the
metadata, the PDF as received) and `infra.feedback_source.document_from_row` rebuilds
the `Document` the LLM retry already re-runs. The original envelope bytes are not kept
(the ledger has their hash and offset) and the broker cannot be relied on to still
have them (retention, a reset embedded broker); keeping them would add the envelope's
JSON again to every document (measured in the README, "Replay").
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from aiokafka.errors import KafkaError
from langgraph.checkpoint.memory import InMemorySaver

from agents.errors import CandidateUnavailable, ReplayError
from agents.graph import build_graph
from agents.ports import Extractor
from agents.replay import LiveReplay, Publish
from agents.replay_drive import DriveOptions, drive
from agents.replay_plan import plan
from agents.replay_shadow import ShadowReplay, build_report
from agents.routing import RoutingPolicy
from autoclerk.adapters import Adapters, build_llm_extractor
from autoclerk.bootstrap import (
    RETRYABLE,
    Database,
    open_database,
    open_serving_adapters,
    workflow_context,
)
from infra.replay_store import SqlReplayStore
from infra.settings import Settings
from rules.evaluator import ZenRulesEvaluator
from schemas.messages import Outgoing, Topics
from schemas.replay import Mode, ReplayOptions, ReplaySelection, ReplayTarget, ShadowReport, ShadowRow

Progress = Callable[[str], None]


@dataclass
class ReplayRequest:
    mode: Mode
    selection: ReplaySelection
    options: ReplayOptions = field(default_factory=ReplayOptions)
    replay_id: str | None = None
    rate: float | None = None
    concurrency: int = 8


@dataclass
class ReplayOutcome:
    replay_id: str
    finished: bool
    total: int
    done_before: int
    results: Counter[str]
    report: ShadowReport | None = None


def resolve_extractor(settings: Settings, ref: str) -> Extractor:
    """A candidate extractor by reference: `llm:MODEL` (the configured OpenAI-compatible
    server), a directory holding a trained artifact, or a version under
    `<models.dir>/extractor/`. Until issue 12's registry is merged this is the one place
    that reads references; it then becomes `Registry.get(ref)`."""
    if ref.startswith("llm:"):
        if not settings.llm.base_url:
            raise CandidateUnavailable(f"{ref}: no LLM server configured (AUTOCLERK_LLM__BASE_URL)")
        return build_llm_extractor(settings.llm.model_copy(update={"model": ref[4:]}))
    from agents.extract.errors import ModelArtifactError
    from agents.extract.local import LocalExtractor
    from agents.model_store import EXTRACTOR

    path = Path(ref) if Path(ref).is_dir() else settings.models.dir / EXTRACTOR / ref
    if not path.is_dir():
        raise CandidateUnavailable(f"extractor {ref!r}: no such directory or version in {path.parent}")
    try:
        return LocalExtractor.load(path)
    except (ModelArtifactError, OSError, ValueError) as exc:
        raise CandidateUnavailable(f"extractor {ref!r} cannot load: {exc}") from exc


def candidate(settings: Settings, options: ReplayOptions, current: Adapters) -> Adapters:
    """The serving adapters with the parts a shadow replay swaps; each checked here,
    before anything is written."""
    routing = current.routing
    if options.thresholds is not None:
        path = Path(options.thresholds)
        if not path.is_file():
            raise CandidateUnavailable(f"thresholds {path}: no such file")
        try:
            r = settings.routing
            routing = RoutingPolicy.load(
                path=path,
                default_threshold=r.min_field_confidence,
                max_risk=r.max_risk,
                rule_limits=current.routing.rule_limits,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CandidateUnavailable(f"thresholds {path} cannot load: {exc}") from exc
    rules = current.rules
    if options.rules is not None:
        if not Path(options.rules).is_dir():
            raise CandidateUnavailable(f"rules {options.rules}: not a directory of decision graphs")
        try:
            rules = ZenRulesEvaluator.load(Path(options.rules), limits=routing.rule_limits)
        except Exception as exc:  # zen raises plain RuntimeError/ValueError; GraphLoadError ours
            raise CandidateUnavailable(f"rules {options.rules} cannot load: {exc}") from exc
    extractor = current.extractor
    if options.extractor is not None:
        extractor = resolve_extractor(settings, options.extractor)
    return replace(current, extractor=extractor, rules=rules, routing=routing)


def describe(adapters: Adapters) -> dict[str, str]:
    return {
        "extractor": adapters.extractor.version,
        "rules": adapters.rules.version,
        "thresholds": adapters.routing.version or "settings",
        "triage": adapters.triage.version,
    }


@asynccontextmanager
async def _producer(bootstrap: str, topics: Topics, partitions: int) -> AsyncIterator[Publish]:
    from infra.errors import TopicCreationError
    from infra.kafka import ensure_topics, make_producer

    producer = make_producer(bootstrap=bootstrap, client_id="autoclerk-replay")
    try:
        await ensure_topics(bootstrap=bootstrap, names=topics.all(), partitions=partitions)
        await producer.start()
    except (KafkaError, OSError, TopicCreationError) as exc:
        await producer.stop()
        raise ReplayError(f"cannot reach the broker at {bootstrap!r}: {exc}") from exc

    async def publish(messages: Sequence[Outgoing]) -> None:
        sent = [await producer.send(m.topic, m.value, key=m.key) for m in messages]
        await asyncio.gather(*sent)  # acknowledged, then marked emitted

    try:
        yield publish
    finally:
        await producer.stop()


async def run_replay(
    settings: Settings,
    request: ReplayRequest,
    *,
    stop: asyncio.Event,
    progress: Progress,
    started: Callable[[str, int, int], None] = lambda rid, total, done: None,
    database: Database | None = None,
    adapters: Adapters | None = None,
) -> ReplayOutcome:
    """Plan (every refusal before any write), then run until done or `stop`.
    `database` and `adapters`: tests hand in their own; by default the settings'."""
    if request.mode == "live" and not settings.kafka.bootstrap:
        raise ReplayError("a live replay publishes: set AUTOCLERK_KAFKA__BOOTSTRAP to the running broker")
    async with AsyncExitStack() as stack:
        if database is None:
            database = await stack.enter_async_context(open_database(settings.db.url))
        db: Database = database
        if adapters is None:
            adapters = await stack.enter_async_context(open_serving_adapters(settings, engine=db.engine))
        used: Adapters = adapters
        return await _execute(
            settings,
            request,
            db=db,
            adapters=used,
            stack=stack,
            stop=stop,
            progress=progress,
            started=started,
        )


async def _execute(
    settings: Settings,
    request: ReplayRequest,
    *,
    db: Database,
    adapters: Adapters,
    stack: AsyncExitStack,
    stop: asyncio.Event,
    progress: Progress,
    started: Callable[[str, int, int], None],
) -> ReplayOutcome:
    store = SqlReplayStore(engine=db.engine)
    found = await store.replay(replay_id=request.replay_id) if request.replay_id else None
    options = found[2] if found else request.options
    used = candidate(settings, options, adapters) if request.mode == "shadow" else adapters
    options = options.model_copy(update={"candidate": describe(used)})
    topics = Topics.with_prefix(settings.kafka.topic_prefix)
    publish: Publish | None = None
    if request.mode == "live":  # reach the broker before anything is written
        assert settings.kafka.bootstrap
        publish = await stack.enter_async_context(
            _producer(settings.kafka.bootstrap, topics, settings.kafka.partitions)
        )
    rid, _, options = await plan(
        store, mode=request.mode, selection=request.selection, options=options, replay_id=request.replay_id
    )
    total, done = await store.counts(replay_id=rid)
    started(rid, total, done)
    results: Counter[str] = Counter()

    def count(result: str) -> None:
        results[result] += 1
        progress(result)

    context = workflow_context(store=db.store, adapters=used)
    one: Callable[[ReplayTarget], Awaitable[str]]
    if request.mode == "shadow":
        graph = build_graph(checkpointer=InMemorySaver())
        shadow = ShadowReplay(store=store, graph=graph, context=context, retryable=RETRYABLE)
        one = partial(shadow.one, replay_id=rid)
    else:
        assert publish is not None
        live = LiveReplay(
            store=store,
            graph=build_graph(checkpointer=db.checkpointer),
            context=context,
            topics=topics,
            sla_hours=settings.review.sla_hours,
            publish=publish,
            retryable=RETRYABLE,
        )
        await live.relay(replay_id=rid)
        one = partial(live.one, replay_id=rid, include_reviewed=options.include_reviewed)
    await store.set_status(replay_id=rid, status="running")
    drive_options = DriveOptions(rate=request.rate, concurrency=request.concurrency)
    finished = await drive(
        store=store, replay_id=rid, one=one, options=drive_options, stop=stop, progress=count
    )
    await store.set_status(replay_id=rid, status="done" if finished else "cancelled")
    report = await shadow_report(store, rid, options.candidate) if request.mode == "shadow" else None
    return ReplayOutcome(
        replay_id=rid, finished=finished, total=total, done_before=done, results=results, report=report
    )


async def shadow_report(store: SqlReplayStore, replay_id: str, candidate: dict[str, str]) -> ShadowReport:
    rows = [
        ShadowRow.model_validate(d)
        for _, r, d in await store.items(replay_id=replay_id)
        if r in ("shadow", "failed")
    ]
    return build_report(replay_id=replay_id, rows=rows, candidate=candidate)


async def stored_report(settings: Settings, replay_id: str) -> ShadowReport | None:
    from infra.db.engine import make_async_engine

    engine = make_async_engine(settings.db.url)
    try:
        store = SqlReplayStore(engine=engine)
        found = await store.replay(replay_id=replay_id)
        if found is None or found[0] != "shadow":
            return None
        return await shadow_report(store, replay_id, found[2].candidate)
    finally:
        await engine.dispose()
