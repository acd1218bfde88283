"""`autoclerk run`: the whole pipeline on the embedded default, end to end.

Starts the embedded broker (unless one is configured; durable in `var/broker` by
default), worker processes that are restarted when they exit (`autoclerk.supervise`),
says loudly when the broker came back empty (`autoclerk.epoch`), publishes the shipped
sample, follows outcomes in the store and prints the summary.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from autoclerk.epoch import learn_epoch, reset_report
from autoclerk.publish import publish_events
from autoclerk.reference import load_shipped_reference
from autoclerk.samples import received_event, sample_documents
from autoclerk.summary import RunSummary, collect_summary, summary_table
from autoclerk.supervise import Supervisor
from feedback.models import ensure_models
from infra.broker import EmbeddedBroker
from infra.db.engine import make_engine, migrate
from infra.kafka import ensure_topics
from infra.process import die_with_parent
from infra.settings import Settings
from schemas.messages import Topics


def _reset_sqlite(url: str) -> None:
    u = make_url(url)
    if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(u.database + suffix).unlink(missing_ok=True)


def spawn_worker(
    *, settings: Settings, bootstrap: str, log_path: Path, health_port: int | None = None
) -> subprocess.Popen[bytes]:
    """`health_port`: this worker's /healthz, /readyz and /metrics (one port per process)."""
    env = {
        **os.environ,
        "AUTOCLERK_KAFKA__BOOTSTRAP": bootstrap,
        "AUTOCLERK_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "AUTOCLERK_DB__URL": settings.db.url,
        "AUTOCLERK_MODELS__DIR": str(settings.models.dir),
    }
    if health_port is not None:
        env["AUTOCLERK_KAFKA__HEALTH_PORT"] = str(health_port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "autoclerk", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # SIGTERM, not SIGKILL: a worker whose parent died still stops cleanly.
            preexec_fn=die_with_parent(signal.SIGTERM),
        )


def worker_ports(base: int | None, log_paths: list[Path]) -> dict[Path, int]:
    """Worker i serves on `base + i`: each process has its own metrics (autoclerk.observe)."""
    return {} if base is None else {path: base + i for i, path in enumerate(log_paths)}


async def wait_for_outcomes(
    *,
    settings: Settings,
    expected: int,
    supervisor: Supervisor,
    console: Console,
    timeout_s: float,
) -> RunSummary:
    """Follow the store until every document has an outcome, restarting workers that exit
    (`WorkerKeepsDying` when one exits too often)."""
    engine = make_engine(settings.db.url)
    deadline = time.monotonic() + timeout_s
    try:
        with Progress(
            TextColumn("[bold]processing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("docs", total=expected)
            while True:
                summary = await asyncio.to_thread(collect_summary, engine)
                done = summary.outcomes + summary.duplicates
                bar.update(task, completed=min(done, expected))
                if done >= expected:
                    return summary
                supervisor.check()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {done} of {expected} documents reached an outcome")
                await asyncio.sleep(0.25)
    finally:
        engine.dispose()


async def keep_workers_alive(supervisor: Supervisor) -> None:
    while True:
        supervisor.check()
        await asyncio.sleep(1.0)


def stop_worker(worker: subprocess.Popen[bytes], *, timeout_s: float = 15.0) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


async def demo_run(
    *,
    settings: Settings,
    limit: int | None,
    fresh: bool,
    console: Console,
    timeout_s: float,
    serve: bool,
    n_workers: int = 1,
) -> RunSummary:
    durable = settings.kafka.embedded_storage == "durable"
    if fresh:
        _reset_sqlite(settings.db.url)
        if settings.kafka.bootstrap is None and durable:
            shutil.rmtree(settings.kafka.embedded_dir, ignore_errors=True)
    ensure_models(models_dir=settings.models.dir, data_dir=settings.data_dir, log=console.print)
    migrate(settings.db.url)
    engine = make_engine(settings.db.url)
    loaded = load_shipped_reference(engine=engine, data_dir=settings.data_dir)
    engine.dispose()
    console.print(f"reference data: {loaded}")
    topics = Topics.with_prefix(settings.kafka.topic_prefix)
    docs = sample_documents(data_dir=settings.data_dir, limit=limit)
    async with AsyncExitStack() as stack:
        bootstrap = settings.kafka.bootstrap
        if bootstrap is None:
            storage_dir = settings.kafka.embedded_dir if durable else None
            broker = EmbeddedBroker(log_path=Path("var/logs/broker.log"), storage_dir=storage_dir)
            await broker.astart()
            stack.callback(broker.stop)
            bootstrap = broker.bootstrap
            where = f"storage {storage_dir}" if durable else "MEMORY storage: lost if it dies"
            console.print(f"embedded broker on {bootstrap} (pid {broker.pid}, {where})")
        await ensure_topics(bootstrap=bootstrap, names=topics.all(), partitions=settings.kafka.partitions)
        epoch = await learn_epoch(bootstrap=bootstrap, prefix=settings.kafka.topic_prefix)
        warning = await asyncio.to_thread(reset_report, db_url=settings.db.url, epoch=epoch)
        if warning is not None:
            console.print(f"[bold red]{warning}[/bold red]")
        # One process per core: extraction is CPU-bound, and the consumer group
        # spreads the partitions over the processes.
        log_paths = [Path(f"var/logs/worker-{i}.log") for i in range(n_workers)]
        ports = worker_ports(settings.kafka.health_port, log_paths)
        supervisor = Supervisor(
            spawn=lambda log_path: spawn_worker(
                settings=settings, bootstrap=bootstrap, log_path=log_path, health_port=ports.get(log_path)
            ),
            log_paths=log_paths,
            say=lambda line: console.print(f"[yellow]{line}[/yellow]"),
        )
        stack.callback(supervisor.stop)
        console.print(
            f"{n_workers} worker process(es): {', '.join(map(str, supervisor.pids))}; logs in var/logs/"
        )
        if ports:
            urls = ", ".join(f"http://127.0.0.1:{p}/metrics" for p in ports.values())
            console.print(f"worker metrics: {urls} (/healthz, /readyz beside them)")
        sent = await publish_events(
            bootstrap=bootstrap, topic=topics.received, events=(received_event(d) for d in docs)
        )
        console.print(f"published {sent} documents to {topics.received}")
        summary = await wait_for_outcomes(
            settings=settings, expected=sent, supervisor=supervisor, console=console, timeout_s=timeout_s
        )
        console.print(summary_table(summary, published=sent))
        if serve:
            from autoclerk.demo_review import serve_review

            ui = asyncio.create_task(serve_review(settings=settings, bootstrap=bootstrap, console=console))
            alive = asyncio.create_task(keep_workers_alive(supervisor))
            try:
                done, _ = await asyncio.wait({ui, alive}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (ui, alive):
                    task.cancel()
            for task in done:
                task.result()  # WorkerKeepsDying, or the UI's own error
    return summary
