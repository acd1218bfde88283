"""faust's aiokafka transport with a short fetch wait, so a quiet stream is not slow.

faust 0.15 builds its consumer with `fetch_max_wait_ms=1500`, not a setting. Kafka
answers a waiting fetch as soon as a record arrives, so there the wait only bounds an
idle poll; tansu (the embedded broker) answers at the end of the wait. Measured on
tansu, one record every 33 ms, produce → consume: p50 403 ms / p90 687 ms at 1,500 ms,
21 / 40 ms at 100, 5 / 7 ms at 20 (`bench/fetch_wait.py`). Half the documents'
latency at half load was that wait. 100, not 20: at 20 ms the consumer thread's
back-to-back empty fetches delayed the offset commit enough that a worker crashing a
second after acknowledging a message had not committed it yet
(tests/integration/test_streams_worker.py, exhausted retries): redelivered, so never
lost, but 100 ms costs little latency for it. An idle worker polls its broker ten
times a second instead of every 1.5 s.

Subclassing is the only way in: faust resolves the transport by URL scheme and the
consumer thread builds the aiokafka consumer in one method with the value inline.
The attribute set below is aiokafka's own constructor argument, read when the
consumer starts (its fetcher is built in `start()`).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from faust.types import TransportT

FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(Consumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class LowLatencyTransport(Transport):
    Consumer = _Consumer


class App(faust.App):
    """`faust.App` on `LowLatencyTransport` (the producer side is unchanged)."""

    def _new_transport(self) -> TransportT:
        return LowLatencyTransport(self.conf.broker_consumer, self)
