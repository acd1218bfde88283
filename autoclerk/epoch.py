"""Broker epochs: notice a broker that came back empty, at start and while running.

The broker's epoch is the first marker in `<prefix>.epoch` (`infra.kafka.broker_epoch`).
A durable broker keeps it across restarts; a broker that lost its data (memory
storage, a wiped folder, a rebuilt cluster) gets a new one. Every consumed message
is stamped with the epoch, because offsets start again at 0 in a new one.

- At start, `reset_report` compares the epoch with the ingest ledger: rows but none in
  this epoch means the messages the old broker held and we had not consumed are lost
  unless upstream sends them again. That is said loudly (log at ERROR and console).
- While running, `EpochWatch` re-reads the marker every few seconds. When it changed,
  the worker logs at ERROR and restarts itself in place (same PID, `os.execv`): faust
  drops messages whose offsets are below what it has already read, and a new broker
  starts again at 0, so only a fresh consumer reads the new epoch correctly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from mode import Service

from infra.db.engine import make_engine
from infra.kafka import broker_epoch, ensure_topics, epoch_topic, read_epoch
from infra.ledger_epochs import ledger_epochs

__all__ = ["EpochWatch", "learn_epoch", "reset_report"]

log = logging.getLogger("autoclerk.epoch")

BANNER = "!" * 78


async def learn_epoch(*, bootstrap: str, prefix: str) -> str:
    topic = epoch_topic(prefix)
    # Kept forever: on a Kafka with time retention an expired marker would look like
    # a broker that came back empty.
    await ensure_topics(
        bootstrap=bootstrap,
        names=[topic],
        partitions=1,
        configs={"retention.ms": "-1", "retention.bytes": "-1"},
    )
    return await broker_epoch(bootstrap=bootstrap, topic=topic)


def reset_report(*, db_url: str, epoch: str) -> str | None:
    """The loud warning when the database has consumed messages from another broker
    incarnation and none from this one; None when all is well."""
    engine = make_engine(db_url)
    try:
        known = ledger_epochs(engine=engine, epoch=epoch)
    finally:
        engine.dispose()
    if not known.broker_came_back_empty:
        return None
    if known.last_epoch == "":
        return (
            f"the broker's epoch {epoch} is new to this database, whose {known.rows} ledger rows "
            "predate epoch markers: if the broker was reset, messages it held and we had not "
            "consumed are lost unless upstream sends them again"
        )
    return (
        f"THE BROKER CAME BACK EMPTY: its epoch is {epoch}, new to this database; the last "
        f"epoch consumed was {known.last_epoch} ({known.last_epoch_accepted} documents accepted, "
        f"offsets up to {known.last_epoch_max_offset}). Messages that were on the old broker and "
        "not yet consumed are LOST unless upstream sends them again."
    )


def shout(message: str) -> None:
    log.error("%s\n%s\n%s", BANNER, message, BANNER)


class EpochWatch(Service):
    """Re-reads the epoch marker; restarts the worker in place when the broker was reset."""

    def __init__(self, *, bootstrap: str, prefix: str, epoch: str, interval_s: float = 2.0) -> None:
        super().__init__()
        self._bootstrap = bootstrap
        self._prefix = prefix
        self.epoch = epoch
        self._interval_s = interval_s

    @Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            await self.sleep(self._interval_s)
            if self.should_stop:
                return
            try:
                now = await self.current()
            except Exception as exc:  # broker down or restarting: look again later
                log.warning("epoch check: broker unreachable (%r)", exc)
                continue
            if now != self.epoch:
                self.restart_in_place(new=now)

    async def current(self) -> str:
        topic = epoch_topic(self._prefix)
        found = await read_epoch(bootstrap=self._bootstrap, topic=topic, wait_s=3.0)
        if found is not None:
            return found
        # Empty, missing, or only slow: broker_epoch reads offset 0 back after writing,
        # so a slow read of an intact marker still answers the old epoch.
        return await learn_epoch(bootstrap=self._bootstrap, prefix=self._prefix)

    def restart_in_place(self, *, new: str) -> None:
        shout(
            f"THE BROKER CAME BACK EMPTY under a running worker: epoch {self.epoch} -> {new}. "
            "Messages it held and we had not consumed are LOST unless upstream sends them "
            "again. Restarting this worker in place so it reads the new broker from offset 0."
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        # No clean stop: it would commit offsets of the old broker into the new one.
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def learn_epoch_sync(*, bootstrap: str, prefix: str) -> str:
    return asyncio.run(learn_epoch(bootstrap=bootstrap, prefix=prefix))
