"""The demo's live view: delivered intervals from the delivery ledger, checked against the
simulator's ground truth, with latency after close on the demo's accelerated clock; and each
interval's continuous reconciliation against the Genesys stand-in, from the reconciliation topic.

With a deliberately wrong restatement (``inject``), the first interval of the first profile is
restated once its first revision has been reconciled; that revision must be reported out of
tolerance, and it is not held against the truth check."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import headers_of
from streamvane.commands.event_feed import Clock
from streamvane.commands.processes import Children
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import local_iso
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import format_instant
from streamvane.kpi.service_level import with_service_level
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord


@dataclass
class DemoView:
    profiles: list[FeedProfile]
    intervals: int
    clock: Clock
    truths: dict[str, dict[tuple[str, str, int], dict[str, tuple[int, int, int, int]]]]
    kpi: KpiConfig
    delivered: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    truth_ok: dict[tuple[str, int], bool] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    failed: set[tuple[str, int]] = field(default_factory=set)
    reports: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)
    inject: Callable[[FeedRecord], FeedRecord] | None = None
    injected: tuple[str, int, int] | None = None
    records: dict[tuple[str, int], FeedRecord] = field(default_factory=dict)

    def wanted(self) -> set[tuple[str, int]]:
        out = set()
        for p in self.profiles:
            start = p.grid().start_of(self.clock.sim_start_ms)
            for _ in range(self.intervals):
                out.add((p.id, start))
                start = p.grid().next_start(start)
        return out

    def header(self) -> str:
        return (
            f"{'interval (profile zone)':<27} {'profile':<24} {'rows':>4} {'status':<10} {'tries':>5} "
            f"{'after close':>11}  KPIs vs truth\n"
        )

    def done(self, wanted: set[tuple[str, int]]) -> bool:
        """Every wanted interval delivered (or failed) and its first revision reconciled; the
        deliberate restatement, if any, reconciled too."""
        reconciled = {(p, start) for p, start, revision in self.reports if revision == 1}
        if not wanted <= set(self.delivered) | self.failed or not wanted <= reconciled | self.failed:
            return False
        return self.inject is None or (self.injected is not None and self.injected in self.reports)

    def follow(
        self,
        kafka: KafkaConnection,
        group_id: str,
        topics: dict[str, str],
        children: Children,
        timeout: float,
        publish: Callable[[FeedRecord], None] | None = None,
        on_poll: Callable[[], None] | None = None,
    ) -> None:
        """Until every wanted interval is delivered and reconciled: each outcome and report as it
        comes; ``on_poll`` runs between reads (the provisional updates' lines)."""
        ledger, feed, reconciliation = (
            topics["delivery_ledger"],
            topics["feed_records"],
            topics["reconciliation"],
        )
        consumer = Consumer(
            kafka.config(
                **{
                    "group.id": group_id,
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,  # it only watches: no group outlives the demo
                }
            )
        )
        consumer.subscribe([ledger, feed, reconciliation])
        codec = AvroCodec()
        wanted = self.wanted()
        first = (self.profiles[0].id, min(start for p, start in wanted if p == self.profiles[0].id))
        records = self.records
        deadline = time.monotonic() + timeout
        next_status = time.monotonic() + 10
        try:
            while not self.done(wanted):
                children.check()
                if time.monotonic() >= next_status:
                    next_status += 10
                    sim_now = (
                        self.clock.sim_start_ms
                        + (time.time_ns() / 1e6 - self.clock.wall_start_ms) * self.clock.speedup
                    )
                    sys.stdout.write(
                        f"  … simulated clock {format_instant(int(sim_now))}, {len(records)} records, "
                        f"{len(self.delivered)} delivered, {len(wanted - set(self.delivered))} still due\n"
                    )
                    sys.stdout.flush()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"timed out after {timeout:.0f}s")
                if on_poll is not None:
                    on_poll()
                for msg in consumer.consume(num_messages=500, timeout=0.5):
                    if msg.error():
                        continue
                    if msg.topic() == feed:
                        record = codec.decode(
                            msg.value() or b"", headers_of(msg)[FINGERPRINT_HEADER].decode()
                        )
                        records[(record.profile_id, record.interval_start_ms)] = record
                        continue
                    if msg.topic() == reconciliation:
                        report = orjson.loads(msg.value() or b"{}")
                        key3 = (report["profile"], report["intervalStartMs"], report["revision"])
                        self.reports[key3] = report
                        self._show_report(report)
                        if self.inject is not None and self.injected is None and key3 == (*first, 1):
                            wrong = self.inject(records[first])
                            self.injected = (wrong.profile_id, wrong.interval_start_ms, wrong.revision)
                            assert publish is not None
                            publish(wrong)
                        continue
                    entry = orjson.loads(msg.value() or b"{}")
                    if entry.get("kind") != "outcome":
                        continue
                    key = (entry["profile"], entry["intervalStartMs"])
                    self._show(key, entry, records.get(key), key in wanted)
        finally:
            consumer.close()

    def _show(self, key: tuple[str, int], entry: dict[str, Any], record: Any, wanted: bool) -> None:
        profile = next(p for p in self.profiles if p.id == key[0])
        latency = (entry["finishedMs"] - self.clock.wall_ms(entry["intervalEndMs"])) / 1000
        truth = "-"
        if record is not None and self.injected == (key[0], key[1], entry["revision"]):
            truth = "wrong (deliberate)"
        elif record is not None:
            got = {
                (row.queue_id, row.media_type, record.interval_start_ms): {
                    s.metric: (s.count, s.sum, s.min, s.max) for s in row.metrics
                }
                for row in record.rows
                if row.metrics
            }
            rule = self.kpi.service_level_rule
            expected = {
                k: with_service_level(v, rule)
                for k, v in self.truths[profile.id].items()
                if k[2] == record.interval_start_ms
            }
            ok = got == expected
            self.truth_ok[key] = ok
            truth = "equal" if ok else "DIFFERENT"
        if entry["result"] == "delivered":
            self.delivered[key] = entry
            if wanted:
                self.latencies.append(latency)
        elif wanted:
            self.failed.add(key)
        sys.stdout.write(
            f"{local_iso(entry['intervalStartMs'], profile.time_zone):<27} {profile.id:<24} "
            f"{entry['rows']:>4} {entry['result'][:10]:<10} {entry['attempts']:>5} "
            f"{latency:>10.1f}s  {truth}\n"
        )
        sys.stdout.flush()

    def _show_report(self, report: dict[str, Any]) -> None:
        profile = next(p for p in self.profiles if p.id == report["profile"])
        where = f"{local_iso(report['intervalStartMs'], profile.time_zone):<27} {profile.id:<24}"
        if report["verdict"] == "ok":
            line = (
                f"reconciled with Genesys: revision {report['revision']} within tolerance "
                f"({report['ok']} cells)"
            )
        else:
            cells = ", ".join(
                f"{c['field']} {c['queue_id'][:8]}… ours {c['ours']} Genesys {c['theirs']}"
                for c in report["outCells"][:3]
            )
            line = f"reconciled with Genesys: revision {report['revision']} OUT of tolerance: {cells}"
        sys.stdout.write(f"{where} {line}\n")
        sys.stdout.flush()

    def receiver_check(self, log: Path) -> dict[str, bool]:
        """Idempotency key → accepted and valid, from the receiver's own log."""
        out: dict[str, bool] = {}
        if log.exists():
            for line in log.read_bytes().splitlines():
                entry = orjson.loads(line)
                key = entry["headers"].get("Idempotency-Key", "").strip('"')
                out[key] = out.get(key, False) or (entry["status"] == 200 and entry["valid"])
        return out

    def summary(self, grace_s: float, valid: dict[str, bool]) -> int:
        wanted = self.wanted()
        got = [k for k in wanted if k in self.delivered]
        invalid = [k for k in got if not valid.get(self.delivered[k]["idempotencyKey"], False)]
        wrong = [k for k in got if not self.truth_ok.get(k, False)]
        first_ok = [k for k in wanted if self.reports.get((*k, 1), {}).get("verdict") == "ok"]
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
        sys.stdout.write(
            f"\nstreamvane demo: {len(got)}/{len(wanted)} intervals delivered, "
            f"{len(got) - len(invalid)} validated by the receiver, {len(got) - len(wrong)} equal to ground "
            f"truth; latency after close p50 {p50:.1f}s p99 {p99:.1f}s "
            f"(target: grace {grace_s:.1f}s + 2s = {grace_s + 2:.1f}s)\n"
        )
        sys.stdout.write(
            f"streamvane demo: {len(first_ok)}/{len(wanted)} intervals reconciled with Genesys "
            "within tolerance\n"
        )
        caught = self.inject is None
        if self.injected is not None:
            report = self.reports.get(self.injected, {})
            caught = report.get("verdict") == "out"
            sys.stdout.write(
                f"streamvane demo: the deliberately wrong restatement {self.injected[0]} "
                f"{format_instant(self.injected[1])} revision {self.injected[2]} was "
                f"{'reported OUT of tolerance' if caught else 'NOT reported'} by reconciliation\n"
            )
        for k in sorted(set(wanted) - set(first_ok)):
            sys.stdout.write(f"  not reconciled within tolerance: {k[0]} {format_instant(k[1])}\n")
        for k in sorted(set(wanted) - set(got)):
            sys.stdout.write(f"  missing: {k[0]} {format_instant(k[1])}\n")
        for k in sorted(invalid):
            sys.stdout.write(f"  not validated by the receiver: {k[0]} {format_instant(k[1])}\n")
        for k in sorted(wrong):
            sys.stdout.write(f"  KPIs differ from ground truth: {k[0]} {format_instant(k[1])}\n")
        complete = len(got) == len(wanted) and len(first_ok) == len(wanted)
        return 0 if complete and not invalid and not wrong and caught else 1
