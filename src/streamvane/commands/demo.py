"""``streamvane demo``: a live contact center on the local Kafka, with interval KPIs as they close.

What runs: the simulator produces a contact center's Genesys events to the event topic on an
accelerated clock (EventBridge envelopes keyed by conversationId, through confluent-kafka); a
consumer reads them back from Kafka, runs them through the pure KPI core and, whenever the event
time has passed an interval's end plus the ACW grace, prints that interval's KPIs per queue and
checks them against the simulator's ground truth. ``--intervals N`` stops after N closed intervals
and exits 0 only if every one matched.

Until the Faust topology and the HTTP dispatcher land this is the whole demo; it shows the real
path Genesys event → Kafka → KPI core, and that the numbers are right.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from streamvane.genesys.events import ConversationEvent
from streamvane.genesys.parse import EventParser
from streamvane.kpi import metrics as m
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.aggregate import IntervalAggregator
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.correlation import Correlator
from streamvane.kpi.intervals import Granularity, IntervalGrid, format_instant, parse_instant
from streamvane.kpi.service_level import service_level
from streamvane.settings import Settings
from streamvane.simulator.contact_center import Conversation, queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.simulator.truth import ground_truth


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run a live simulated contact center through Kafka and the KPI core")
    p.add_argument("--intervals", type=int, default=8, help="stop after this many closed intervals")
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--speedup", type=float, default=120.0, help="simulated seconds per real second")
    p.add_argument("--granularity", default="PT15M")
    p.add_argument("--time-zone", default="Europe/Berlin")
    p.add_argument("--start", default="2026-11-02T08:00:00Z", help="simulated start instant")
    p.set_defaults(handler=run)


def _ensure_topic(bootstrap: str, name: str, partitions: int, replication: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if name in admin.list_topics(timeout=10).topics:
        return
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=replication)])
    try:
        futures[name].result(timeout=30)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise


def _current_ends(consumer: Consumer, topic: str, timeout_s: float = 60.0) -> list[TopicPartition]:
    """Each partition at its current end, so the demo reads only what it produces.

    A just-created topic (or a just-started broker) answers "not leader" for a moment, so any
    error is retried until ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            ends = []
            for partition in sorted(metadata.partitions):
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                ends.append(TopicPartition(topic, partition, high))
            return ends
        except KafkaException:
            if time.monotonic() > deadline:  # librdkafka does not flag every such error retriable
                raise
            time.sleep(0.5)


def _produce(
    bootstrap: str,
    topic: str,
    spec: SimulationSpec,
    conversations: list[Conversation],
    speedup: float,
    stop: threading.Event,
) -> None:
    """Produce events paced by event time: ``speedup`` simulated ms per real ms."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True})
    started = time.monotonic()
    for at_ms, line in delivery(spec, conversations):
        if stop.is_set():
            break
        due = started + (at_ms - spec.start_ms) / 1000 / speedup
        delay = due - time.monotonic()
        if delay > 0:
            producer.flush(delay)
            time.sleep(max(0.0, due - time.monotonic()))
        key = line[line.find(b'"conversationId":"') + 18 :].split(b'"', 1)[0]
        producer.produce(topic, key=key, value=line)
        producer.poll(0)
    producer.flush(30)


def _row(queue: str, acc: IntervalAccumulator, config: KpiConfig, target: float) -> str:
    offered, answered = acc.count(m.N_OFFERED), acc.count(m.T_ANSWERED)
    abandoned = acc.count(m.T_ABANDON)
    asa = acc.stats[m.T_ANSWERED].sum / answered / 1000 if answered else 0.0
    handled = acc.stats.get(m.T_HANDLE)
    aht = handled.sum / handled.count / 1000 if handled and handled.count else 0.0
    sl = service_level(acc, config, target)
    sl_text = f"{100 * sl.ratio:5.1f}%" if sl else "    -"
    return (
        f"  {queue[:22]:<22} {offered:>7} {answered:>8} {abandoned:>9} {asa:>7.1f} {aht:>7.1f} {sl_text:>7}"
    )


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    bootstrap, topic = settings.kafka.bootstrap_servers, settings.topics.events
    grid = IntervalGrid(Granularity.parse(args.granularity), args.time_zone)
    config = KpiConfig()
    intervals_needed = args.intervals
    hours = (intervals_needed * grid.length_ms + config.acw_grace_ms + 2 * grid.length_ms) / 3_600_000
    spec = SimulationSpec(agents=args.agents, seed=args.seed, hours=hours, start_ms=parse_instant(args.start))
    conversations = simulate(spec)
    queue_names = {qid: q.name for qid, q in queue_directory(spec).items()}
    truth = ground_truth(conversations, grid, config).snapshot()
    _ensure_topic(bootstrap, topic, settings.kafka.partitions, settings.kafka.replication_factor)

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"streamvane-demo-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign(_current_ends(consumer, topic))

    sys.stdout.write(
        f"streamvane demo: {args.agents} agents, {len(spec.queues)} queues, {args.granularity} intervals in "
        f"{args.time_zone}, clock x{args.speedup:g}, topic {topic} on {bootstrap}\n"
    )
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce, args=(bootstrap, topic, spec, conversations, args.speedup, stop), daemon=True
    )
    producer.start()
    parser, aggregator = EventParser(), IntervalAggregator(grid)
    correlator = Correlator(config, aggregator)
    next_start, closed, mismatches, consumed = grid.start_of(spec.start_ms), 0, 0, 0
    try:
        while closed < intervals_needed:
            if not producer.is_alive() and consumed and correlator.newest_ms < next_start:
                break
            for msg in consumer.consume(num_messages=2000, timeout=0.5):
                if msg.error():
                    continue
                consumed += 1
                event = parser.parse(msg.value() or b"", time.time_ns() // 1_000_000)
                if isinstance(event, ConversationEvent):
                    correlator.accept(event)
            watermark = correlator.newest_ms - config.reorder_tolerance_ms
            correlator.expire(watermark)  # finalise sessions due before the watermark, then close
            while closed < intervals_needed and grid.next_start(next_start) + config.acw_grace_ms < watermark:
                end = grid.next_start(next_start)
                mismatches += _print_interval(next_start, end, aggregator, truth, queue_names, config, args)
                closed += 1
                next_start = end
    finally:
        stop.set()
        consumer.close()
    sys.stdout.write(
        f"streamvane demo: {consumed:,} events consumed from Kafka, {closed} intervals closed, "
        f"{mismatches} differed from the simulator's ground truth\n"
    )
    return 0 if closed == intervals_needed and mismatches == 0 else 1


def _print_interval(
    start: int,
    end: int,
    aggregator: IntervalAggregator,
    truth: dict[tuple[str, str, int], dict[str, tuple[int, int, int, int]]],
    queue_names: dict[str, str],
    config: KpiConfig,
    args: argparse.Namespace,
) -> int:
    cells = {key: acc for key, acc in aggregator.cells.items() if key[2] == start}
    computed = {key: acc.snapshot() for key, acc in cells.items() if acc.stats}
    expected = {key: value for key, value in truth.items() if key[2] == start}
    verdict = "matches ground truth" if computed == expected else "DIFFERS from ground truth"
    local = IntervalGrid(Granularity.parse(args.granularity), args.time_zone)
    sys.stdout.write(
        f"\ninterval {format_instant(start)} – {format_instant(end)} ({local.time_zone}): {verdict}\n"
    )
    sys.stdout.write("  queue/media            offered answered abandoned  ASA s   AHT s     SL\n")
    for (queue, media, _), acc in sorted(cells.items()):
        name = f"{queue_names.get(queue, queue)}/{media}"
        sys.stdout.write(_row(name, acc, config, config.service_level_for(queue, media).percentage) + "\n")
    sys.stdout.flush()
    return 0 if computed == expected else 1
