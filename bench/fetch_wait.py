"""Produce → consume latency on the embedded broker by the consumer's fetch wait.

    .venv/bin/python -m bench.fetch_wait [--waits 1500 100 20] [--n 60] [--rate 30]

One record every 1/rate s (a paced producer, linger 0) on a 4-partition topic; the
latency is the consumer's clock minus the record's broker timestamp. tansu answers a
fetch at the end of its wait rather than when a record arrives, so the wait sets the
latency of a quiet stream (`streams/transport.py`). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from infra.broker import EmbeddedBroker
from infra.kafka import ensure_topics


async def _one(bootstrap: str, wait_ms: int, n: int, rate: float) -> dict[str, Any]:
    topic = f"bench-fetch-{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap=bootstrap, names=[topic], partitions=4)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=wait_ms,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        await asyncio.sleep(3)  # the group settles
        latencies: list[float] = []

        async def consume() -> None:
            async for m in consumer:
                latencies.append(time.time() * 1000 - m.timestamp)
                if len(latencies) >= n:
                    return

        task = asyncio.create_task(consume())
        for i in range(n):
            await producer.send_and_wait(topic, b"x" * 2000, key=str(i).encode())
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(task, 60)
    finally:
        await consumer.stop()
        await producer.stop()
    latencies.sort()
    return {
        "fetch_max_wait_ms": wait_ms,
        "p50_ms": round(latencies[len(latencies) // 2], 1),
        "p90_ms": round(latencies[int(len(latencies) * 0.9)], 1),
        "max_ms": round(latencies[-1], 1),
    }


async def run(waits: list[int], n: int, rate: float) -> list[dict[str, Any]]:
    async with EmbeddedBroker() as broker:
        return [await _one(broker.bootstrap, w, n, rate) for w in waits]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--waits", type=int, nargs="+", default=[1500, 100, 20])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--rate", type=float, default=30.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.waits, args.n, args.rate)), indent=2))


if __name__ == "__main__":
    main()
