"""Two payload versions side by side on the real broker: the worker computes both from the same
events, and the dispatcher delivers both on every interval, told apart by header and key."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from streamvane.kpi.intervals import format_instant
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support.dispatcher import DispatchRun
from tests.support.http_servers import ScriptedEndpoint, ok
from tests.support.worker import WorkerRun

pytestmark = pytest.mark.integration

SPEC = SimulationSpec(agents=10, hours=1.0, seed=17)
TICK_MS = SPEC.end_ms + 2 * 3_600_000


def versioned(url: str) -> dict[str, Any]:
    return {
        "id": "wfm",
        "version": 1,
        "cadence": "PT15M",
        "time_zone": "UTC",
        "correction_horizon_ms": 3 * 3_600_000,
        "dimensions": [
            {"queue_id": qid, "media_type": q.media_type} for qid, q in queue_directory(SPEC).items()
        ],
        "payload": {"format": "json", "schema_version": "wfm/1"},
        "endpoint": {"url": url + "/actuals/{profile}/{interval_start}", "allow_insecure_http": True},
        "versions": [
            {
                "name": "v2",
                "payload": {"format": "xml", "schema_version": "wfm/2"},
                "fields": [{"name": "Offered", "metric": "nOffered"}],
            }
        ],
    }


def test_both_versions_are_computed_and_delivered_on_every_interval(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    endpoint = ScriptedEndpoint(ok).start()
    run = WorkerRun(
        kafka_bootstrap, tmp_path, [versioned(endpoint.url)], feed_start=format_instant(SPEC.start_ms)
    )
    dispatch: DispatchRun | None = None
    try:
        run.start()
        run.produce_events([line for _, line in delivery(SPEC, simulate(SPEC))])
        run.wait_ingested()
        run.close_backfill(TICK_MS)
        starts = range(SPEC.start_ms, SPEC.end_ms, 15 * 60_000)
        records = run.read_records(
            lambda rs: (
                {(r.profile_id, r.interval_start_ms) for r in rs}
                >= {(p, s) for p in ("wfm", "wfm.v2") for s in starts}
            )
        )
        by_interval: dict[int, dict[str, Any]] = defaultdict(dict)
        for r in records:
            by_interval[r.interval_start_ms][r.profile_id] = r
        for start in starts:
            v1, v2 = by_interval[start]["wfm"], by_interval[start]["wfm.v2"]
            assert [row.metrics for row in v1.rows] == [row.metrics for row in v2.rows], "the same numbers"
            assert v1.idempotency_key != v2.idempotency_key
        dispatch = DispatchRun(kafka_bootstrap, tmp_path, [versioned(endpoint.url)])
        dispatch.env["STREAMVANE_TOPICS__FEED_RECORDS"] = run.topics["feed_records"]
        dispatch.start()
        outcomes = dispatch.wait_outcomes(len(records), timeout=120)
        assert {o["result"] for o in outcomes} == {"delivered"}
        delivered: dict[str, set[str]] = defaultdict(set)
        for request in endpoint.received:
            delivered[request.headers["X-Streamvane-Interval"]].add(
                request.headers["X-Streamvane-Payload-Version"]
            )
        assert len(delivered) >= len(starts)
        assert all(versions == {"wfm/1", "wfm/2"} for versions in delivered.values()), delivered
    finally:
        if dispatch is not None:
            dispatch.cleanup()
        run.cleanup()
        endpoint.close()
