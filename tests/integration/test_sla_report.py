"""``streamvane sla report`` on the real broker: a ledger topic with known outcomes and a feed
topic in, the exact ratio, the causes and the exit code out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from confluent_kafka import Producer

from streamvane.kpi.intervals import parse_instant
from tests.support import kafka
from tests.support.dispatcher import DispatchRun
from tests.support.ledger import EXPECTED_EXCEPTIONS, PROFILE, known_ledger

WINDOW = ("--from", "2026-11-02T07:30:00Z", "--to", "2026-11-02T10:15:00Z", "--as-of", "2026-11-02T10:30:00Z")


def test_sla_report_reads_the_ledger_and_names_every_late_or_missing_interval(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    spec = {"id": PROFILE.id, "version": 1, "grace_ms": PROFILE.grace_ms, "time_zone": PROFILE.time_zone}
    run = DispatchRun(kafka_bootstrap, tmp_path, [spec])
    kafka.create_topic(kafka_bootstrap, run.topics["delivery_ledger"], partitions=1)
    entries, emitted = known_ledger()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for entry in entries:
        parsed = orjson.loads(entry)
        producer.produce(
            run.topics["delivery_ledger"], key=f"{PROFILE.id}|{parsed['intervalStartMs']}", value=entry
        )
    for start in sorted(emitted):
        producer.produce(run.topics["feed_records"], key=f"{PROFILE.id}|{start}", value=b"-")
    producer.produce(
        run.topics["feed_records"], key=f"other|{parse_instant('2026-11-02T09:15:00Z')}", value=b"-"
    )
    assert producer.flush(30) == 0
    try:
        as_json = report(run, "--format", "json")
        assert as_json.returncode == 1, as_json.stderr.decode()
        doc = orjson.loads(as_json.stdout)
        assert (doc["intervals"], doc["on_time"], doc["late"], doc["missing"], doc["ratio"]) == (
            10,
            4,
            3,
            3,
            0.4,
        )
        assert [(e["interval"], e["state"], e["causes"]) for e in doc["exceptions"]] == EXPECTED_EXCEPTIONS

        table = report(run).stdout.decode()
        rows = {line.split()[0]: line.split()[1:] for line in table.splitlines() if line.strip()}
        assert rows["2026-11-01"] == ["2", "2", "0", "0", "100.00%", "95%", "met"]
        assert rows["2026-11-02"] == ["8", "2", "3", "3", "25.00%", "95%", "MISSED"]
        assert rows["total"] == ["10", "4", "3", "3", "40.00%", "95%", "MISSED"]
        assert "missing 2026-11-02T09:15:00.000Z: not emitted (worker down or watermark stalled)" in table

        morning = report(run, "--from", "2026-11-02T07:30:00Z", "--to", "2026-11-02T08:00:00Z")
        assert morning.returncode == 0, "the target is met over a range of on-time intervals"
        unknown = report(run, "--profile", "nope")
        assert unknown.returncode == 2 and b"nope" in unknown.stderr
    finally:
        run.cleanup()


def report(run: DispatchRun, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = ("--profile", PROFILE.id) if "--profile" not in args else ()
    window = WINDOW if "--from" not in args else WINDOW[4:]
    return subprocess.run(
        [sys.executable, "-m", "streamvane", "sla", "report", *profile, *window, *args],
        env=run.env,
        capture_output=True,
        check=False,
    )
