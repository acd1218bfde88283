"""Run a faust app as a worker from our own CLI, without faust's argv parsing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import faust
from mode import ServiceT

__all__ = ["run_worker"]

log = logging.getLogger(__name__)


def run_worker(
    *,
    app: faust.App,
    loglevel: str = "info",
    logfile: str | None = None,
    quiet: bool = True,
    services: Sequence[ServiceT] = (),
    logging_config: dict[str, Any] | None = None,
) -> int:
    """Block until the worker stops; return the process exit code.

    SIGTERM and SIGINT stop it cleanly (faust's worker installs the handlers):
    in-flight messages finish, acknowledged offsets are committed, the rest are
    delivered again on the next start. A crash (retries exhausted) returns 1.
    `services` start and stop with the worker (for example a database pool or an
    outbox relay). Web is governed by how the app was built (`build_app(web_port=...)`).
    `logging_config`: a dictConfig faust applies instead of its own (JSON logs).
    """
    # A fresh loop owned by the worker: faust closes it on the way out.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    worker = faust.Worker(
        app,
        *services,
        loop=loop,
        loglevel=loglevel,
        logfile=logfile,
        quiet=quiet,
        redirect_stdouts=False,
        logging_config=logging_config,
    )
    worker.spinner = None  # it writes terminal control codes even when quiet
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        log.info("worker exited with code %s", code)
        return code
    finally:
        asyncio.set_event_loop(None)
    return 0  # pragma: no cover - execute_from_commandline always raises SystemExit
