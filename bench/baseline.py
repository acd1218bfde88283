"""The floor under the pipeline: a plain aiokafka consume -> produce loop, no processing.

    .venv/bin/python bench/baseline.py [--n 20000] [--payload-bytes 1024] [--bootstrap HOST:PORT]

Without `--bootstrap` it starts the embedded tansu broker. Two floors:
- `consume_produce_baseline`: plain aiokafka, fetch a batch, publish one message per
  input, wait for the acknowledgements, commit;
- `faust_edge_baseline`: our faust worker (`streams.build_app`) with a processor that
  only forwards, i.e. the edge's own cost.
`bench/pipeline.py` imports them to measure on the same broker in the same run.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from infra.broker import EmbeddedBroker
from infra.kafka import ensure_topics, make_consumer, make_producer, topic_names
from schemas.messages import MessageMeta, Outgoing
from streams.app import build_app


async def _fill(*, bootstrap: str, topic: str, n_messages: int, payload: bytes) -> None:
    producer = make_producer(bootstrap=bootstrap, linger_ms=10)
    await producer.start()
    try:
        pending = [await producer.send(topic, payload, key=str(i).encode()) for i in range(n_messages)]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def consume_produce_baseline(
    *,
    bootstrap: str,
    n_messages: int,
    payload: bytes,
    partitions: int = 4,
    timeout_s: float = 300.0,
) -> float:
    """Messages/s of consume -> produce -> commit over `n_messages` pre-filled messages.

    Uses fresh, uuid-named topics and group. The clock starts at the first fetched
    message, so the consumer group join (slow on tansu) is not counted.
    """
    prefix = f"bench-{uuid.uuid4().hex[:12]}"
    source, sink = f"{prefix}.in", f"{prefix}.out"
    await ensure_topics(bootstrap=bootstrap, names=[source, sink], partitions=partitions)
    await _fill(bootstrap=bootstrap, topic=source, n_messages=n_messages, payload=payload)

    consumer = make_consumer(
        source,
        bootstrap=bootstrap,
        group_id=prefix,
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
        max_poll_records=500,
    )
    producer = make_producer(bootstrap=bootstrap)
    await asyncio.gather(consumer.start(), producer.start())
    try:
        done, started = 0, None
        deadline = time.monotonic() + timeout_s
        while done < n_messages:
            if time.monotonic() > deadline:
                raise TimeoutError(f"baseline moved {done}/{n_messages} messages in {timeout_s}s")
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                continue
            started = started or time.perf_counter()
            pending = [
                await producer.send(sink, message.value, key=message.key)
                for messages in batches.values()
                for message in messages
            ]
            await asyncio.gather(*pending)
            await consumer.commit()
            done += len(pending)
        assert started is not None
        return done / (time.perf_counter() - started)
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())


class _PassThrough:
    """A Processor that forwards each message: measures the faust edge alone."""

    def __init__(self, *, sink: str, n_messages: int) -> None:
        self.sink = sink
        self.n_messages = n_messages
        self.done = 0
        self.started: float | None = None
        self.finished = asyncio.Event()

    async def on_received(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        self.started = self.started or time.perf_counter()
        return [Outgoing(self.sink, meta.key, raw, outbox_id=meta.offset)]

    async def on_review_completed(self, *, raw: bytes, meta: MessageMeta) -> list[Outgoing]:
        return []

    async def mark_emitted(self, *, outbox_ids: list[int]) -> None:
        self.done += len(outbox_ids)
        if self.done >= self.n_messages:
            self.finished.set()

    async def mark_undeliverable(self, *, outbox_ids: list[int], reason: str) -> None:
        raise AssertionError(f"baseline messages are small; refused: {reason}")


async def faust_edge_baseline(
    *,
    bootstrap: str,
    n_messages: int,
    payload: bytes,
    concurrency: int = 8,
    partitions: int = 4,
    timeout_s: float = 300.0,
) -> float:
    """Messages/s through our faust worker (`streams.build_app`) with a pass-through processor.

    The same edge the pipeline uses (in-order acks, publish-then-mark), no work in it:
    the gap to `consume_produce_baseline` is the edge's own cost.
    """
    topics = topic_names(f"bench-{uuid.uuid4().hex[:12]}")
    await ensure_topics(bootstrap=bootstrap, names=topics.all(), partitions=partitions)
    await _fill(bootstrap=bootstrap, topic=topics.received, n_messages=n_messages, payload=payload)
    processor = _PassThrough(sink=topics.decided, n_messages=n_messages)
    app = build_app(
        bootstrap=bootstrap,
        topics=topics,
        app_id=topics.received,
        processor=processor,
        concurrency=concurrency,
        session_timeout_s=3.0,
    )
    await app.start()
    try:
        await asyncio.wait_for(processor.finished.wait(), timeout_s)
    finally:
        await app.stop()
    assert processor.started is not None
    return n_messages / (time.perf_counter() - processor.started)


async def _main(args: argparse.Namespace) -> dict[str, object]:
    payload = b"x" * args.payload_bytes

    async def measure(bootstrap: str) -> dict[str, float]:
        plain = await consume_produce_baseline(bootstrap=bootstrap, n_messages=args.n, payload=payload)
        edge = await faust_edge_baseline(bootstrap=bootstrap, n_messages=args.n, payload=payload)
        return {"aiokafka_consume_produce": round(plain, 1), "faust_edge_passthrough": round(edge, 1)}

    if args.bootstrap:
        rates, broker = await measure(args.bootstrap), args.bootstrap
    else:
        async with EmbeddedBroker() as embedded:
            rates = await measure(embedded.bootstrap)
        broker = "embedded tansu (memory)"
    return {
        "benchmark": "baseline",
        "broker": broker,
        "n_messages": args.n,
        "payload_bytes": args.payload_bytes,
        "messages_per_s": rates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--payload-bytes", type=int, default=1024)
    parser.add_argument("--bootstrap", default=None, help="use this Kafka instead of tansu")
    print(json.dumps(asyncio.run(_main(parser.parse_args()))))


if __name__ == "__main__":
    main()
