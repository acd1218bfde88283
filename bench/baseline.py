"""The floor under the pipeline: a plain aiokafka consume -> produce loop, no processing.

    .venv/bin/python bench/baseline.py [--n 20000] [--payload-bytes 1024] [--bootstrap HOST:PORT]

Without `--bootstrap` it starts the embedded tansu broker. The loop does what the
worker does at the edge (fetch a batch, publish one message per input, wait for
the acknowledgements, commit), so the pipeline's messages/s can be read against
it. `bench/pipeline.py` imports `consume_produce_baseline` to measure both on the
same broker in the same run. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from infra.broker import EmbeddedBroker
from infra.kafka import ensure_topics, make_consumer, make_producer


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


async def _main(args: argparse.Namespace) -> dict[str, object]:
    payload = b"x" * args.payload_bytes
    if args.bootstrap:
        rate = await consume_produce_baseline(bootstrap=args.bootstrap, n_messages=args.n, payload=payload)
        broker = args.bootstrap
    else:
        async with EmbeddedBroker() as embedded:
            rate = await consume_produce_baseline(
                bootstrap=embedded.bootstrap, n_messages=args.n, payload=payload
            )
        broker = "embedded tansu (memory)"
    return {
        "benchmark": "consume_produce_baseline",
        "broker": broker,
        "n_messages": args.n,
        "payload_bytes": args.payload_bytes,
        "messages_per_s": round(rate, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--payload-bytes", type=int, default=1024)
    parser.add_argument("--bootstrap", default=None, help="use this Kafka instead of tansu")
    print(json.dumps(asyncio.run(_main(parser.parse_args()))))


if __name__ == "__main__":
    main()
