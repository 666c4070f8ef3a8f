"""Sustained events/s of one `streamvane worker` process against the raw consume rate of the same
topic with a bare aiokafka consumer, in the same run, on the local broker. Target (issue 4): at
least 25,000 events/s per worker process on this 2-core machine with the broker beside it, and at
least 50 % of the raw rate.

A third row is a Faust agent that only batches the same topic and does nothing: Faust's own
ceiling on this machine, which bounds any Faust-based worker.

The worker's time runs from its "Ready" log line to the moment its consumer group has committed
both the input topic and the re-keyed topic to their ends (Faust commits every few seconds, so
large inputs keep that granularity small).

Run: ``make bench`` (starts Kafka) or ``python -m bench.worker_throughput [--agents N --hours H]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.report import emit
from streamvane.kpi.intervals import format_instant
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support import kafka
from tests.support.worker import WorkerRun

TARGET = 25_000


async def raw_rate(bootstrap: str, topic: str, partitions: int, expected: int) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        seen, started = 0, time.perf_counter()
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batch.values())
        return expected / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def faust_noop_rate(bootstrap: str, topic: str, expected: int, tmp: Path, mode: str) -> float:
    """Events/s of a Faust agent that only batches (bench/faust_noop_app.py): Faust's own ceiling."""
    result = tmp / f"noop-{mode}.txt"
    env = {
        "NOOP_MODE": mode,
        "NOOP_FETCH_BYTES": str(16 * 1024 * 1024),  # the worker's default max_fetch_bytes
        **os.environ,
        "NOOP_APP_ID": f"noop-{uuid.uuid4().hex[:8]}",
        "NOOP_DATADIR": str(tmp / "noop-data"),
        "NOOP_BOOTSTRAP": bootstrap,
        "NOOP_TOPIC": topic,
        "NOOP_EXPECTED": str(expected),
        "NOOP_RESULT": str(result),
    }
    app = Path(__file__).with_name("faust_noop_app.py")
    with (tmp / "noop.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(app), "worker", "-l", "warn"], env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 600
            while not result.exists() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(60)
    seen, seconds = result.read_text().split()
    return int(seen) / float(seconds)


def group_done(run: WorkerRun) -> bool:
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as TP

    consumer = Consumer({"bootstrap.servers": run.bootstrap, "group.id": run.app_id})
    try:
        for topic in (run.topics["events"], run.topics["keyed"]):
            parts = [TP(topic, p) for p in range(run.partitions)]
            for tp in consumer.committed(parts, timeout=10):
                low, high = consumer.get_watermark_offsets(tp, timeout=10)
                if high > low and tp.offset < high:
                    return False
        return True
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--batch-within-s", type=float, default=1.0)
    args = parser.parse_args()
    spec = SimulationSpec(agents=args.agents, hours=args.hours, seed=7)
    lines = [line for _, line in delivery(spec, simulate(spec))]
    bootstrap = kafka.default_bootstrap()
    dims = [{"queue_id": q, "media_type": s.media_type} for q, s in queue_directory(spec).items()]
    profiles = [{"id": "bench-15", "version": 1, "cadence": "PT15M", "dimensions": dims}]
    with tempfile.TemporaryDirectory() as tmp:
        run = WorkerRun(
            bootstrap,
            Path(tmp),
            profiles,
            feed_start=format_instant(spec.start_ms),
            partitions=args.partitions,
        )
        run.env["STREAMVANE_WORKER__BATCH_SIZE"] = str(args.batch_size)
        run.env["STREAMVANE_WORKER__BATCH_WITHIN_S"] = str(args.batch_within_s)
        try:
            run.produce_events(lines, input_partitions=args.partitions)
            raw = asyncio.run(raw_rate(bootstrap, run.topics["events"], args.partitions, len(lines)))
            noop = faust_noop_rate(bootstrap, run.topics["events"], len(lines), Path(tmp), "take")
            noop_iterate = faust_noop_rate(bootstrap, run.topics["events"], len(lines), Path(tmp), "iterate")
            run.start()
            run.wait_ready()
            started = time.perf_counter()
            run.wait_keyed(len(lines), timeout=900)
            while not group_done(run):
                run.assert_alive()
                time.sleep(0.25)
            worker = len(lines) / (time.perf_counter() - started)
        finally:
            run.cleanup()
    rows = [
        {"consumer": "bare aiokafka consumer (raw)", "events_per_s": raw},
        {"consumer": "Faust agent doing nothing (take_events)", "events_per_s": noop},
        {"consumer": "Faust agent doing nothing (one event at a time)", "events_per_s": noop_iterate},
        {"consumer": "streamvane worker (ingest + correlate)", "events_per_s": worker},
    ]
    emit(
        "worker_throughput",
        rows,
        {
            "events": len(lines),
            "partitions": args.partitions,
            "batch_size": args.batch_size,
            "batch_within_s": args.batch_within_s,
            "worker_to_raw_ratio": worker / raw,
            "target_events_per_s": TARGET,
            "target_met": worker >= TARGET and worker / raw >= 0.5,
        },
    )


if __name__ == "__main__":
    main()
