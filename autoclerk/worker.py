"""Process entrypoints for `autoclerk worker` and `autoclerk broker`.

Serving only: nothing here (or below) imports training code; the models a worker
serves are trained if missing before it starts (`feedback.models.ensure_models`, called
by the command), loaded from the registry's active versions when the runtime opens on
faust's loop, and switched live by `RegistryWatch` when a promotion or rollback moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AsyncExitStack
from pathlib import Path

from mode import Service
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.telemetry import install as install_telemetry
from autoclerk.bootstrap import RETRYABLE, Runtime, open_database, open_runtime
from autoclerk.epoch import EpochWatch, learn_epoch_sync, reset_report, shout
from autoclerk.logs import configure_logging, logging_config
from autoclerk.observe import build_telemetry, install_worker_pages
from autoclerk.retry_loop import LlmRetryLoop
from infra.broker import EmbeddedBroker
from infra.heap import settle_heap
from infra.kafka import ensure_topics
from infra.settings import Settings
from schemas.messages import MessageMeta, Outgoing, Topics
from streams.app import build_app, publisher
from streams.errors import RetryableError
from streams.handler import RetryPolicy
from streams.worker import run_worker


class RuntimeProcessor:
    """The `streams.ports.Processor` for a worker process.

    faust owns the event loop, so the runtime (engine, checkpointer, triage batcher)
    is opened on that loop at the first message and closed when the worker stops.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack = AsyncExitStack()
        self._runtime: Runtime | None = None
        self._lock: asyncio.Lock | None = None

    async def _rt(self) -> Runtime:
        if self._runtime is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._runtime is None:
                    try:
                        self._runtime = await self._stack.enter_async_context(open_runtime(self._settings))
                        settle_heap()  # the models are loaded: spare them every full collection
                    except Exception as exc:
                        # Not the message's fault: never dead-letter it. Retrying, then
                        # stopping unacknowledged, leaves it for a healthy worker.
                        raise RetryableError(f"worker runtime unavailable: {exc!r}") from exc
        return self._runtime

    async def runtime(self) -> Runtime:
        return await self._rt()

    async def engine(self) -> AsyncEngine:
        return (await self._rt()).database.engine

    async def on_received(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        return await (await self._rt()).service.on_received(raw=raw, meta=meta)

    async def on_review_completed(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        return await (await self._rt()).service.on_review_completed(raw=raw, meta=meta)

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        await (await self._rt()).service.mark_emitted(outbox_ids=outbox_ids)

    async def dead_letter(
        self, *, raw: bytes, meta: MessageMeta, reason: str, error_type: str
    ) -> list[Outgoing]:
        service = (await self._rt()).service
        return await service.dead_letter(raw=raw, meta=meta, reason=reason, error_type=error_type)

    async def mark_undeliverable(self, *, outbox_ids: list[int], reason: str) -> None:
        await (await self._rt()).service.mark_undeliverable(outbox_ids=outbox_ids, reason=reason)

    async def check_models(self) -> None:
        """Switch to the registry's active versions if they moved (nothing before the
        first message: the runtime, opened then, starts with the active ones)."""
        if self._runtime is not None:
            await self._runtime.models.check()

    async def close(self) -> None:
        await self._stack.aclose()


class RegistryWatch(Service):
    """Polls the model registry's generation; a promotion or rollback reaches every
    worker within `interval_s` plus the time to load the new version."""

    def __init__(self, processor: RuntimeProcessor, *, interval_s: float) -> None:
        super().__init__()
        self._processor = processor
        self._interval_s = interval_s

    @Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            await self.sleep(self._interval_s)
            if self.should_stop:
                return
            try:
                await self._processor.check_models()
            except Exception as exc:  # database down: serve what we have, look again later
                logging.getLogger("autoclerk.models").warning("registry check failed (%r)", exc)


class _Closer(Service):
    """Closes the runtime (engine, checkpointer, batcher) when the worker stops."""

    def __init__(self, processor: RuntimeProcessor) -> None:
        super().__init__()
        self._processor = processor

    async def on_stop(self) -> None:
        await self._processor.close()


async def _preflight(settings: Settings) -> None:
    """Migrate and open the database once, so a bad database stops the worker at start
    with a clear error instead of at its first message (the models were vetted by
    `ensure_models`; the runtime loads them once, on faust's loop)."""
    async with open_database(settings.db.url):
        pass


def consumer_group(prefix: str, epoch: str) -> str:
    """One consumer group per broker incarnation. A broker that came back empty numbers
    its messages from 0 again, and the offsets a group committed there are not to be
    trusted: a worker of the old epoch may have committed its old positions into the
    new broker before it noticed the reset (seen in tests/faults/test_broker_restart.py:
    the restarted worker then waited past the end of every partition). A fresh group
    starts at the earliest offset; the ledger makes re-reading harmless."""
    return f"{prefix}-worker-{epoch[:12]}" if epoch else f"{prefix}-worker"


def run_worker_process(settings: Settings) -> int:
    """Consume until stopped, serving the registry's active models."""
    assert settings.kafka.bootstrap is not None
    configure_logging(settings.log)
    telemetry = build_telemetry(settings)
    install_telemetry(telemetry)
    topics = Topics.with_prefix(settings.kafka.topic_prefix)
    asyncio.run(
        ensure_topics(
            bootstrap=settings.kafka.bootstrap, names=topics.all(), partitions=settings.kafka.partitions
        )
    )
    asyncio.run(_preflight(settings))  # migrates the database, which reset_report reads
    epoch = learn_epoch_sync(bootstrap=settings.kafka.bootstrap, prefix=settings.kafka.topic_prefix)
    logging.getLogger("autoclerk").info("broker epoch %s", epoch)
    warning = reset_report(db_url=settings.db.url, epoch=epoch)
    if warning is not None:
        shout(warning)
    processor = RuntimeProcessor(settings)
    app = build_app(
        bootstrap=settings.kafka.bootstrap,
        topics=topics,
        app_id=consumer_group(settings.kafka.topic_prefix, epoch),
        processor=processor,
        concurrency=settings.kafka.concurrency,
        retryable=(RetryableError, *RETRYABLE),
        retry=RetryPolicy(give_up_after_s=settings.kafka.retry_for_s),
        web_port=settings.kafka.health_port,
        web_host=settings.kafka.health_host,
        epoch=epoch,
        max_message_bytes=settings.kafka.max_message_bytes,
        max_event_bytes=settings.kafka.max_event_bytes,
    )
    if settings.kafka.health_port is not None:
        install_worker_pages(
            app, telemetry=telemetry, bootstrap=settings.kafka.bootstrap, engine=processor.engine
        )
    watch = EpochWatch(bootstrap=settings.kafka.bootstrap, prefix=settings.kafka.topic_prefix, epoch=epoch)
    services: list[Service] = [
        _Closer(processor),
        watch,
        RegistryWatch(processor, interval_s=settings.models.watch_interval_s),
    ]
    if settings.llm.enabled and settings.llm.retry_window_s > 0:
        # Stopped before _Closer (mode stops services in reverse), so no round runs
        # on a closed runtime.
        services.append(
            LlmRetryLoop(
                runtime=processor.runtime,
                publish=publisher(app, max_bytes=settings.kafka.max_message_bytes),
                interval_s=settings.llm.retry_interval_s,
            )
        )
    return run_worker(
        app=app, loglevel=settings.log.level, services=services, logging_config=logging_config(settings.log)
    )


def serve_broker(settings: Settings, *, port: int | None, console: Console) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        durable = settings.kafka.embedded_storage == "durable"
        storage_dir = settings.kafka.embedded_dir if durable else None
        async with EmbeddedBroker(
            port=port, log_path=Path("var/logs/broker.log"), storage_dir=storage_dir
        ) as broker:
            topics = Topics.with_prefix(settings.kafka.topic_prefix)
            await ensure_topics(
                bootstrap=broker.bootstrap, names=topics.all(), partitions=settings.kafka.partitions
            )
            console.print(f"broker on {broker.bootstrap}; topics: {', '.join(topics.all())}")
            console.print(f"storage: {storage_dir or 'memory (lost when it stops)'}")
            console.print(f"use it with: export AUTOCLERK_KAFKA__BOOTSTRAP={broker.bootstrap}")
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
