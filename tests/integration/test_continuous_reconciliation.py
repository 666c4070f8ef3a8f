"""Continuous reconciliation beside the dispatcher, on the real broker, against the local Genesys
contract server: every delivered interval is judged once Genesys has settled, a deliberately
wrong restatement is reported (topic, metrics, log), and a restart judges nothing twice."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import read_to_end
from streamvane.commands.demo import wrong_restatement
from streamvane.commands.processes import free_port
from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import Dimension, FeedProfile
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.config import KpiConfig
from streamvane.records.feed_record import FeedRecord
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.spec import SimulationSpec
from streamvane.simulator.truth import ground_truth
from tests.support import kafka
from tests.support.dispatcher import DispatchRun, profile
from tests.support.genesys_api import GenesysContractServer
from tests.support.http_servers import ScriptedEndpoint, ok, wait_until

SPEC = SimulationSpec(agents=30, hours=1, seed=5)
KPI = KpiConfig()
PROFILE_ID = "recon"


def truth_and_records() -> tuple[dict[str, Any], list[FeedRecord], tuple[Dimension, ...]]:
    conversations = simulate(SPEC)
    dims = tuple(Dimension(queue_id=q, media_type=s.media_type) for q, s in queue_directory(SPEC).items())
    spec = FeedProfile(id=PROFILE_ID, version=1, dimensions=dims)
    truth = ground_truth(conversations, spec.grid(), KPI)
    by_start: dict[int, dict[tuple[str, str], IntervalAccumulator]] = {}
    for (queue, media, start), acc in truth.cells.items():
        if start < SPEC.end_ms:
            by_start.setdefault(start, {})[(queue, media)] = acc
    records = [interval_record(spec, start, cells, kpi=KPI) for start, cells in sorted(by_start.items())]
    return aggregates_response(truth.cells, spec.grid(), KPI), records, dims


def test_every_interval_is_reconciled_and_a_wrong_restatement_is_reported(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    truth, records, dims = truth_and_records()
    genesys = GenesysContractServer(truth=truth)
    endpoint = ScriptedEndpoint(ok).start()
    metrics_port = free_port()
    dimensions = [{"queue_id": d.queue_id, "media_type": d.media_type} for d in dims]
    run = DispatchRun(
        kafka_bootstrap,
        tmp_path,
        [profile(PROFILE_ID, endpoint.url, dimensions=dimensions)],
        secrets={
            "SV_GENESYS_ID": genesys.client_id,
            "SV_GENESYS_SECRET": genesys.client_secret,
            "STREAMVANE_DISPATCHER__METRICS_PORT": str(metrics_port),
        },
        settings={
            "genesys": {
                "client_id": {"env": "SV_GENESYS_ID"},
                "client_secret": {"env": "SV_GENESYS_SECRET"},
                "login_url": genesys.url,
                "api_url": genesys.url,
                "reconcile_continuously": True,
                "reconcile_after_s": 0,
            }
        },
    )
    reports_topic = run.topics["reconciliation"]
    kafka.create_topic(kafka_bootstrap, reports_topic, partitions=1)

    def reports() -> list[dict[str, Any]]:
        return [
            orjson.loads(m.value() or b"{}")
            for m in read_to_end(KafkaConnection.plaintext(kafka_bootstrap), reports_topic)
        ]

    try:
        run.produce(records)
        run.start()
        wait_until(lambda: len(reports()) >= len(records), 60, "a report per interval")
        first = reports()
        assert [(r["intervalStartMs"], r["revision"], r["verdict"]) for r in first] == [
            (r.interval_start_ms, 1, "ok") for r in records
        ], "every interval agrees with Genesys"
        assert all(r["kpiFingerprint"] == KPI.fingerprint and r["out"] == 0 for r in first)

        wrong = wrong_restatement(records[1], extra_offered=5)
        queue = next(r.queue_id for r, old in zip(wrong.rows, records[1].rows, strict=True) if r != old)
        run.produce([wrong])
        wait_until(lambda: len(reports()) > len(records), 60, "the restatement's report")
        report = reports()[-1]
        assert (report["intervalStartMs"], report["revision"], report["verdict"]) == (
            wrong.interval_start_ms,
            2,
            "out",
        )
        offered = [c for c in report["outCells"] if c["field"] == "offered"]
        assert [(c["queue_id"], c["ours"] - c["theirs"]) for c in offered] == [(queue, 5)]

        scraped = (
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        )
        assert f'streamvane_reconciliation_cells_total{{profile="{PROFILE_ID}",verdict="out"}}' in scraped
        ok_line = next(
            line
            for line in scraped.splitlines()
            if line.startswith(
                f'streamvane_reconciliation_cells_total{{profile="{PROFILE_ID}",verdict="ok"}}'
            )
        )
        assert float(ok_line.split()[-1]) >= len(records) * len(dims) * 3
        deviation = next(
            line
            for line in scraped.splitlines()
            if line.startswith("streamvane_reconciliation_max_relative_deviation")
            and 'field="offered"' in line
        )
        assert float(deviation.split()[-1]) > 0.05
        log = run.log.read_text()
        assert "OUT of tolerance" in log and queue in log and "offered" in log
        assert genesys.problems == [], "every query is one the SDK accepts"

        wait_until(
            lambda: (
                kafka.described_lag(kafka_bootstrap, f"sv-dispatch-{run.run_id}-reconcile")
                == {(run.topics["feed_records"], 0): 0}
            ),
            30,
            "the reconcile group committed everything (kafka-consumer-groups --describe)",
        )
        judged = len(reports())
        run.stop()
        run.start()
        time.sleep(4)
        run.assert_alive()
        assert len(reports()) == judged, "a restart judges nothing twice"
        for secret in (*genesys.tokens, genesys.client_secret):
            assert secret not in run.log.read_text()
    finally:
        genesys.close()
        endpoint.close()
        run.cleanup()
