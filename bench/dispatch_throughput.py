"""Dispatcher benchmark on the real broker, delivering to a local HTTP endpoint (another process).

1. Throughput: N feed records (PT15M, 5 rows, JSON, validated) spread over P profiles are put on
   the feed topic first; the dispatcher then drains them. Deliveries/s = records / time from its
   start to the last outcome being durably recorded (ledger acknowledged). Target ≥ 2,000/s.
2. Latency: records are produced at a steady rate below capacity while the dispatcher runs;
   latency = acknowledged delivery − record timestamp (the moment the worker emitted it, i.e.
   interval close + grace in live operation). The end-to-end figure from interval end, which adds
   the grace, is what ``streamvane demo`` prints.

    python -m bench.dispatch_throughput [--records 20000] [--profiles 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.report import emit, summarise
from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import read_to_end
from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.sinks.dispatcher import Dispatcher, DispatcherConfig
from streamvane.sinks.sender import Topics

BOOTSTRAP = "127.0.0.1:19092"
QUEUES = [f"queue-{i}" for i in range(5)]
QUARTER = 15 * 60_000
START = 1_793_606_400_000


def profiles(count: int, url: str) -> list[FeedProfile]:
    return [
        FeedProfile.model_validate(
            {
                "id": f"bench-{i}",
                "version": 1,
                "dimensions": [{"queue_id": q, "media_type": "voice"} for q in QUEUES],
                "endpoint": {
                    "url": url + "/feeds/{profile}/{interval_start}",
                    "max_in_flight": 64,
                    "allow_insecure_http": True,
                },
                "delivery_deadline_ms": 3_600_000,
            }
        )
        for i in range(count)
    ]


def feed(count: int, profiles: list[FeedProfile]) -> list[FeedRecord]:
    """``count`` records round-robin over the profiles, consecutive quarter hours per profile."""
    cells = {}
    for q in QUEUES:
        acc = IntervalAccumulator()
        for v in (12_000, 25_000, 31_000):
            acc.add("tAnswered", v)
            acc.add("nOffered", 1)
        acc.add("tHandle", 300_000)
        cells[(q, "voice")] = acc
    return [
        interval_record(
            profiles[n % len(profiles)], START + (n // len(profiles)) * QUARTER, cells, kpi=KpiConfig()
        )
        for n in range(count)
    ]


def make_topics(run: str) -> tuple[str, Topics]:
    feed_topic, ledger, dlq = f"bench.feed.{run}", f"bench.ledger.{run}", f"bench.dlq.{run}"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    for f in admin.create_topics(
        [NewTopic(t, num_partitions=1, replication_factor=1) for t in (feed_topic, ledger, dlq)]
    ).values():
        f.result(30)
    time.sleep(1)
    return feed_topic, Topics(ledger, dlq)


def drop_topics(feed_topic: str, topics: Topics) -> None:
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    for f in admin.delete_topics([feed_topic, topics.ledger, topics.dead_letter]).values():
        f.result(30)


def produce(topic: str, records: list[FeedRecord], codec: AvroCodec, rate: float | None = None) -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5})
    started = time.perf_counter()
    for i, record in enumerate(records):
        if rate is not None:
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                producer.poll(0)
                time.sleep(delay)
        producer.produce(
            topic,
            key=record.compaction_key.encode(),
            value=codec.encode(record),
            headers=[(FINGERPRINT_HEADER, codec.fingerprint.encode())],
        )
    producer.flush(60)


async def drain(config: DispatcherConfig, profs: list[FeedProfile], expected: int) -> tuple[float, float]:
    """Seconds from start, and from the first durable outcome, until ``expected`` outcomes are
    durably recorded (the first figure includes joining the group and the first fetch)."""
    dispatcher = Dispatcher(config, profs)
    stop = asyncio.Event()
    started = time.perf_counter()
    first = 0.0
    task = asyncio.create_task(dispatcher.run(stop))
    while True:
        await asyncio.sleep(0.005)
        finished = dispatcher.tracker.finished_total()
        if finished and not first:
            first = time.perf_counter()
        if finished >= expected:
            now = time.perf_counter()
            break
        if now_s() - started > 300 or task.done():
            raise RuntimeError("dispatcher did not finish")
    stop.set()
    await task
    return now - started, now - first


def now_s() -> float:
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--profiles", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-rate", type=float, default=200.0, help="records/s in the latency run")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    args = parser.parse_args()
    port = 18700 + uuid.uuid4().int % 1000
    endpoint = subprocess.Popen([sys.executable, str(Path(__file__).with_name("receiver_app.py")), str(port)])
    time.sleep(1.5)
    codec = AvroCodec()
    profs = profiles(args.profiles, f"http://127.0.0.1:{port}")
    try:
        rates, cold = [], []
        for _ in range(args.runs):
            run = uuid.uuid4().hex[:8]
            feed_topic, topics = make_topics(run)
            records = feed(args.records, profs)
            produce(feed_topic, records, codec)
            config = DispatcherConfig(
                KafkaConnection.plaintext(BOOTSTRAP),
                feed_topic,
                topics,
                f"bench-{run}",
                commit_interval_s=0.2,
            )
            total, steady = asyncio.run(drain(config, profs, len(records)))
            drop_topics(feed_topic, topics)
            rates.append((len(records) - 1) / steady)
            cold.append(len(records) / total)
            sys.stderr.write(
                f"run: {len(records)} deliveries, {steady:.1f}s from the first = {rates[-1]:,.0f}/s; "
                f"{total:.1f}s from start = {cold[-1]:,.0f}/s\n"
            )

        run = uuid.uuid4().hex[:8]
        feed_topic, topics = make_topics(run)
        count = int(args.latency_rate * args.latency_seconds)
        records = feed(count, profs)
        config = DispatcherConfig(
            KafkaConnection.plaintext(BOOTSTRAP), feed_topic, topics, f"bench-{run}", commit_interval_s=0.2
        )

        async def paced() -> None:
            drained = asyncio.create_task(drain(config, profs, count))
            await asyncio.to_thread(produce, feed_topic, records, codec, args.latency_rate)
            await drained

        asyncio.run(paced())
        outcomes = [
            orjson.loads(m.value() or b"{}")
            for m in read_to_end(KafkaConnection.plaintext(BOOTSTRAP), topics.ledger)
        ]
        lat = sorted(e["finishedMs"] - e["closeMs"] for e in outcomes if e.get("kind") == "outcome")
        drop_topics(feed_topic, topics)
        p50, p99 = statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]
    finally:
        endpoint.terminate()
        endpoint.wait()
    stats = summarise(rates)
    emit(
        "dispatch_throughput",
        [
            {"measure": "deliveries/s (median of runs)", "value": stats["median"]},
            {"measure": "deliveries/s (best)", "value": stats["best"]},
            {"measure": "deliveries/s (worst)", "value": stats["worst"]},
            {"measure": "deliveries/s incl. start-up (median)", "value": statistics.median(cold)},
            {"measure": f"emit->ack latency p50 ms at {args.latency_rate:g}/s", "value": float(p50)},
            {"measure": f"emit->ack latency p99 ms at {args.latency_rate:g}/s", "value": float(p99)},
        ],
        {
            "records": args.records,
            "profiles": args.profiles,
            "rows_per_record": len(QUEUES),
            "target_deliveries_per_s": 2000,
            "latency_samples": len(lat),
        },
    )


if __name__ == "__main__":
    main()
