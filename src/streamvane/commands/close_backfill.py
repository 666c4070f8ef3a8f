"""``streamvane close-backfill``: declare a backfill finished, so its last intervals close.

With ticks off (a backfill of history), the watermark moves only with the input partitions'
markers, and an input partition that got no events holds it back; nothing closes the tail. This
writes a tick stamped ``--until`` into every keyed partition, after what ingest has forwarded:
every event older than ``until − worker.max_delivery_delay_ms`` is promised delivered, on every
input partition. It first waits (showing progress) until ingest has read the whole backfill:
its group's (``<app_id>-ingest``) lag on the event topic is 0 — a tick written before the last
bundles would close intervals those bundles still fill.
"""

from __future__ import annotations

import argparse
import sys
import time

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.preflight import open_kafka
from streamvane.kpi.intervals import format_instant, parse_instant
from streamvane.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "close-backfill",
        help="close every interval of a finished backfill (a tick into every keyed partition)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--until", required=True, help="ISO-8601 instant with offset: everything before it is in")
    p.add_argument(
        "--wait-s", type=float, default=600.0, help="how long to wait for ingest's lag to reach 0 (seconds)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from streamvane.broker.producer import OutputProducer
    from streamvane.topology.app import TICK_KEY, tick_headers

    settings = Settings()
    try:
        until_ms = parse_instant(args.until)
    except ValueError as exc:
        sys.stderr.write(f"close-backfill: {exc}\n")
        return 2
    kafka = open_kafka(settings.kafka)
    if not wait_for_ingest(settings, kafka, args.wait_s):
        return 1
    producer = OutputProducer(kafka)
    value = str(until_ms).encode()
    for partition in range(settings.kafka.partitions):
        producer.produce(settings.keyed_topic, value, TICK_KEY, tick_headers(), partition)
    left = producer.flush_now(30)
    if left:
        sys.stderr.write(f"close-backfill: {left} ticks not acknowledged by the broker\n")
        return 1
    sys.stdout.write(
        f"close-backfill: tick {format_instant(until_ms)} written to {settings.kafka.partitions} partitions "
        f"of {settings.keyed_topic}\n"
    )
    return 0


def wait_for_ingest(settings: Settings, kafka: KafkaConnection, wait_s: float) -> bool:
    from streamvane.broker.group_lag import group_lag

    deadline = time.monotonic() + wait_s
    group, topic = settings.ingest_group, settings.topics.events
    while (lag := group_lag(kafka, group, topic)) != 0:
        if time.monotonic() > deadline:
            shown = "no committed offsets" if lag is None else f"lag {lag}"
            sys.stderr.write(
                f"close-backfill: ingest ({group}) has not read the backfill ({shown} on {topic}) after "
                f"{wait_s:.0f} s; nothing written. Is the worker running?\n"
            )
            return False
        state = "not started" if lag is None else f"lag {lag}"
        sys.stdout.write(f"close-backfill: waiting for ingest ({group}): {state}\n")
        sys.stdout.flush()
        time.sleep(1.0)
    return True
