"""Routing drift on the real broker: the worker reports a queue that carries traffic but no
profile lists at the first interval it shows up in, and a listed queue once it has been silent
past the profile's limit; `streamvane profiles drift` finds both in the feed-record history."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamvane.commands.processes import free_port
from streamvane.kpi.intervals import format_instant
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support.worker import WorkerRun

pytestmark = pytest.mark.integration

SPEC = SimulationSpec(agents=10, hours=1.5, seed=4)
TICK_MS = SPEC.end_ms + 2 * 3_600_000
QUEUES = sorted(queue_directory(SPEC).items())
UNLISTED = QUEUES[0]  # carries traffic, listed nowhere
GONE = "00000000-0000-4000-8000-00000000dead"  # listed, never carries traffic
PROFILE: dict[str, Any] = {
    "id": "wfm-drift",
    "version": 1,
    "cadence": "PT15M",
    "time_zone": "UTC",
    "correction_horizon_ms": 3 * 3_600_000,
    "silent_after_ms": 30 * 60_000,
    "dimensions": [
        *({"queue_id": qid, "media_type": q.media_type} for qid, q in QUEUES[1:]),
        {"queue_id": GONE, "media_type": "voice"},
    ],
}


@pytest.fixture
def run(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerRun]:
    worker = WorkerRun(kafka_bootstrap, tmp_path, [PROFILE], feed_start=format_instant(SPEC.start_ms))
    yield worker
    worker.cleanup()


def test_unmapped_traffic_and_a_silent_queue_are_reported_by_metric_log_and_cli(run: WorkerRun) -> None:
    metrics_port = free_port()
    run.env["STREAMVANE_WORKER__METRICS_PORT"] = str(metrics_port)
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    run.start()
    run.produce_events(lines)
    run.wait_ingested()
    run.close_backfill(TICK_MS)
    last = SPEC.start_ms + 5 * 15 * 60_000
    records = run.read_records(lambda records: any(r.interval_start_ms >= last for r in records))
    log = run.log.read_text()
    unlisted_id, unlisted = UNLISTED
    first = format_instant(SPEC.start_ms)
    busy = sorted(
        r.interval_start_ms
        for r in records
        for row in r.rows
        if row.queue_id == unlisted_id and any(m.metric == "nOffered" and m.count for m in row.metrics)
    )
    assert busy, "the unlisted queue carries traffic"
    assert (
        f"routing drift: queue {unlisted_id} ({unlisted.media_type}) carries traffic" in log
        and f"offered in {format_instant(busy[0])}) but profile wfm-drift does not list it" in log
    ), "reported at the first interval it carries traffic in"
    assert f"routing drift: queue {GONE} (voice) of profile wfm-drift has had no traffic since {first}" in log
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        scraped = response.read().decode()
    silent = re.search(r'streamvane_drift_silent_queues\{profile="wfm-drift"\} (\d+)', scraped)
    assert silent is not None and int(silent[1]) >= 1, "after the traffic ends every queue goes silent"
    assert (
        f'streamvane_drift_unmapped_offered_total{{media="{unlisted.media_type}",profile="wfm-drift",queue_id="{unlisted_id}"}}'
        in scraped
    )
    drift = subprocess.run(
        [
            sys.executable, "-m", "streamvane", "profiles", "drift",
            "--from", first, "--to", format_instant(SPEC.end_ms),
        ],
        env=run.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert drift.returncode == 1, drift.stderr
    assert f"unmapped  wfm-drift  {unlisted_id} ({unlisted.media_type})" in drift.stdout
    assert f"silent    wfm-drift  {GONE} (voice)  no traffic in the range" in drift.stdout
    listed = [qid for qid, _ in QUEUES[1:]]
    assert not any(qid in drift.stdout for qid in listed), "busy listed queues are not drift"
