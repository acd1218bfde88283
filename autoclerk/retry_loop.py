"""The LLM retry rounds inside a worker process (see agents/llm_retry.py).

A mode service started with the faust worker: every `llm.retry_interval_s` it runs one
round on the worker's runtime (opened lazily by the stream edge, or here if no message
came yet) and publishes through the app's producer. A round that fails (the database
away, the broker refusing) is logged and the next one tries again; the stream edge is
never affected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from mode import Service

from agents.llm_retry import Publish, RetryReport
from autoclerk.bootstrap import Runtime

log = logging.getLogger(__name__)


class LlmRetryLoop(Service):
    def __init__(
        self, *, runtime: Callable[[], Awaitable[Runtime]], publish: Publish, interval_s: float
    ) -> None:
        super().__init__()
        self._runtime = runtime
        self._publish = publish
        self._interval_s = interval_s

    @Service.task
    async def _rounds(self) -> None:
        while not self.should_stop:
            await self.sleep(self._interval_s)
            if self.should_stop:
                return
            await self.round()

    async def round(self) -> RetryReport | None:
        try:
            retrier = (await self._runtime()).retrier
            if retrier is None:
                return None
            report = await retrier.tick(publish=self._publish)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("LLM retry round failed; next round in %gs", self._interval_s)
            return None
        if report.candidates or report.relayed:
            log.info(
                "LLM retry round: %d candidates, %s, %d published, %d relayed",
                report.candidates,
                dict(report.outcomes),
                report.published,
                report.relayed,
            )
        return report
