"""Provisional updates from a real worker on the real broker: a simulated 90 minutes delivered in
slices to two workers sharing the keyed partitions; each quarter hour gets updates on the
provisional topic, numbered upwards, then exactly one final marker and nothing after it, while
the finals on the feed topic are exactly the ground truth."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import read_to_end
from streamvane.kpi.intervals import format_instant
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support.expectations import expected_cells, record_cells
from tests.support.worker import WorkerRun, header_map

pytestmark = pytest.mark.integration

SPEC = SimulationSpec(agents=25, hours=1.5, seed=8, reorder_ms=30_000, duplicate_rate=0.03)
DIMENSIONS = [{"queue_id": qid, "media_type": q.media_type} for qid, q in queue_directory(SPEC).items()]
PROFILE: dict[str, Any] = {
    "id": "wfm-live",
    "version": 1,
    "cadence": "PT15M",
    "time_zone": "UTC",
    "dimensions": DIMENSIONS,
    "correction_horizon_ms": 3 * 3_600_000,
    "provisional": {"every_ms": 300_000},
}
SLICES = 9


def test_two_workers_send_updates_then_one_marker_per_interval_and_exact_finals(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = WorkerRun(
        kafka_bootstrap,
        tmp_path,
        [PROFILE],
        feed_start=format_instant(SPEC.start_ms - 3_600_000),
        partitions=4,
        settings={"worker": {"open_cells_every_s": 0.2, "provisional_max_lag_s": 0}},
    )
    second: subprocess.Popen[bytes] | None = None
    try:
        lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
        run.start()
        run.wait_ready()
        env = {**run.env, "STREAMVANE_DATA_DIR": str(tmp_path / "state-2")}
        with (tmp_path / "worker-2.log").open("ab") as out:
            command = [sys.executable, "-m", "streamvane", "worker", "--loglevel", "info"]
            second = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        size = len(lines) // SLICES + 1
        for n in range(0, len(lines), size):
            run.produce_events(lines[n : n + size])
            run.wait_ingested()
            time.sleep(1.5)  # the open cells' timers run, the assembler sends what is due
        run.close_backfill(SPEC.end_ms + 2 * 3_600_000)
        truth = expected_cells("PT15M", "UTC", lines)
        finals = run.read_records(lambda rs: {r.interval_start_ms for r in rs} >= set(truth))
        assert {r.interval_start_ms: record_cells(r) for r in finals if record_cells(r)} == truth

        codec = AvroCodec("provisional_record")
        story: dict[str, list[FeedRecord | None]] = {}
        for msg in read_to_end(KafkaConnection.plaintext(kafka_bootstrap), run.topics["provisional"]):
            value = msg.value()
            update = codec.decode(value, header_map(msg)[FINGERPRINT_HEADER].decode()) if value else None
            story.setdefault((msg.key() or b"").decode(), []).append(update)
        simulated = [
            r
            for r in finals
            if r.revision == 1 and SPEC.start_ms <= r.interval_start_ms < SPEC.end_ms - 900_000
        ]
        assert len(simulated) >= 5, "the quarter hours wholly inside the simulated 90 minutes"
        for final in simulated:
            told = story.get(final.compaction_key, [])
            assert told and told[-1] is None and told.count(None) == 1, f"{final.compaction_key}: {told}"
            numbers = [u.provisional for u in told[:-1] if u is not None]
            assert numbers and numbers == sorted(set(numbers)), f"{final.compaction_key}: {numbers}"
            last = told[-2]
            assert last is not None and last.idempotency_key != final.idempotency_key
        assert second.poll() is None, "the second worker still runs"
    finally:
        if second is not None:
            second.terminate()
            second.wait(timeout=60)
        run.cleanup()
