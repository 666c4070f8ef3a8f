"""Operators alert on and chart only metrics that exist: every metric name in the Grafana
dashboard and the chart's PrometheusRule is checked against what a real worker and a real
dispatcher serve on /metrics, after they processed a simulated hour; their probes answer."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from streamvane.commands.processes import free_port
from streamvane.kpi.intervals import format_instant
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support.dispatcher import DispatchRun
from tests.support.http_servers import ScriptedEndpoint, ok, wait_until
from tests.support.worker import WorkerRun

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SPEC = SimulationSpec(agents=10, hours=1, seed=3)
_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def families(text: str) -> set[str]:
    """Metric family names as the exposition declares them (a counter's carries ``_total``)."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def family_of(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def referenced() -> dict[str, set[str]]:
    """Metric names used by the dashboard's expressions and the PrometheusRule's."""
    dashboard = json.loads((ROOT / "dashboards" / "streamvane.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = (ROOT / "helm" / "streamvane" / "templates" / "prometheusrule.yaml").read_text()
    rule_exprs = [line.split("expr:", 1)[1] for line in rules.splitlines() if "expr:" in line]
    name = re.compile(r"streamvane_[a-z_]+")
    return {
        "dashboard": {n for e in exprs for n in name.findall(e)},
        "rules": {n for e in rule_exprs for n in name.findall(e)},
    }


def scrape(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return str(resp.read().decode())


def test_the_dashboard_is_valid_grafana_json_with_one_query_per_panel() -> None:
    dashboard: dict[str, Any] = json.loads((ROOT / "dashboards" / "streamvane.json").read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert dashboard["uid"] and dashboard["schemaVersion"] >= 36 and len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["type"] == "timeseries" and panel["datasource"]["uid"] == "${datasource}"
        assert [t["refId"] for t in panel["targets"]] == ["A"] and panel["targets"][0]["expr"].strip()


def test_every_metric_charted_or_alerted_on_is_served_by_the_worker_or_the_dispatcher(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    dims = [{"queue_id": q, "media_type": s.media_type} for q, s in queue_directory(SPEC).items()]
    profiles = [{"id": "wfm", "version": 1, "dimensions": dims}]
    worker = WorkerRun(kafka_bootstrap, tmp_path, profiles, feed_start=format_instant(SPEC.start_ms))
    worker_port, dispatcher_port = free_port(), free_port()
    worker.env["STREAMVANE_WORKER__METRICS_PORT"] = str(worker_port)
    endpoint = ScriptedEndpoint(ok).start()
    (tmp_path / "d").mkdir()
    dispatcher = DispatchRun(
        kafka_bootstrap,
        tmp_path / "d",
        [{**profiles[0], "endpoint": {"url": endpoint.url + "/wfm", "allow_insecure_http": True}}],
        secrets={"STREAMVANE_DISPATCHER__METRICS_PORT": str(dispatcher_port)},
    )
    dispatcher.env["STREAMVANE_TOPICS__FEED_RECORDS"] = worker.topics["feed_records"]
    try:
        worker.start()
        worker.produce_events([line for _, line in delivery(SPEC, simulate(SPEC))])
        worker.wait_ingested()
        worker.close_backfill(SPEC.end_ms + 3_600_000)
        dispatcher.start()
        wait_until(lambda: len(endpoint.received) >= 4, 120, "deliveries")
        served = families(scrape(worker_port)) | families(scrape(dispatcher_port))
        for source, names in referenced().items():
            missing = sorted(n for n in names if n not in served and family_of(n) not in served)
            assert missing == [], f"{source} uses metrics nobody serves: {missing}"
        for port in (worker_port, dispatcher_port):
            assert scrape(port, "/healthz") == "ok\n" and scrape(port, "/readyz") == "ready\n"
    finally:
        endpoint.close()
        dispatcher.cleanup()
        worker.cleanup()
