"""Reconciliation against Genesys' numbers: a simulated day computed from its events agrees with
the simulator's independent truth within tolerance; perturbed figures are named cell by cell."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from streamvane.cli import main
from streamvane.feeds.profile import Dimension, FeedProfile
from streamvane.feeds.reconcile import parse_aggregates, reconcile, records_as_cells
from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.simulator.truth import ground_truth
from tests.support.pipeline import Pipeline

SPEC = SimulationSpec(agents=60, hours=3, seed=31, reorder_ms=20_000, duplicate_rate=0.03)
PROFILE = FeedProfile(id="wfm-15", version=1, cadence="PT15M", time_zone="UTC")
KPI = KpiConfig()


@pytest.fixture(scope="module")
def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """(ours: computed from the delivered events, theirs: the simulator's truth from its facts)."""
    conversations = simulate(SPEC)
    grid = PROFILE.grid()
    lines = [line for _, line in delivery(SPEC, conversations)]
    ours, _ = compute(lines, grid, KPI, received_ms=2**62)
    truth = ground_truth(conversations, grid, KPI)
    return aggregates_response(ours.cells, grid, KPI), aggregates_response(truth.cells, grid, KPI)


def cells_out(ours: dict[str, Any], theirs: dict[str, Any]) -> set[tuple[str, str, str]]:
    result = reconcile(PROFILE, parse_aggregates(ours), parse_aggregates(theirs), SPEC.start_ms, SPEC.end_ms)
    assert result, "there is something to compare"
    return {(c.as_json()["interval"], c.queue_id, c.field) for c in result if c.verdict == "out"}


def stats_of(
    doc: dict[str, Any], metric: str, minimum: int, besides: tuple[str, str] | None = None
) -> tuple[str, str, dict[str, int]]:
    """The first (queue, interval) — other than ``besides`` — whose ``metric`` count is at least
    ``minimum``, and its stats."""
    for result in doc["results"]:
        for data in result["data"]:
            if (result["group"]["queueId"], data["interval"]) == besides:
                continue
            for row in data["metrics"]:
                if row["metric"] == metric and row["stats"]["count"] >= minimum:
                    return result["group"]["queueId"], data["interval"], row["stats"]
    raise AssertionError(f"no interval with {minimum} {metric}")


def test_computed_from_events_agrees_with_the_independent_truth(
    documents: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    ours, theirs = documents
    assert cells_out(ours, theirs) == set()


def test_perturbed_figures_are_named_exactly(documents: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ours, theirs = documents
    perturbed = copy.deepcopy(theirs)
    q1, i1, offered = stats_of(perturbed, "nOffered", 40)
    offered["count"] = round(offered["count"] * 1.05)
    q2, i2, handle = stats_of(perturbed, "tHandle", 20, besides=(q1, i1))
    handle["sum"] = round(handle["sum"] * 0.97)
    out = cells_out(ours, perturbed)
    assert (i1, q1, "offered") in out
    assert {(i2, q2, "totalHandleSeconds"), (i2, q2, "ahtSeconds")} <= out
    assert {(i, q) for i, q, _ in out} <= {(i1, q1), (i2, q2)}, "nothing else is out"
    assert {f for i, q, f in out if (i, q) == (i1, q1)} <= {"offered", "serviceLevelPct"}


def test_one_call_on_three_passes_through_the_absolute_floor(
    documents: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, theirs = documents
    mine, genesys = copy.deepcopy(theirs), copy.deepcopy(theirs)
    queue, interval, offered = stats_of(genesys, "nOffered", 1)
    offered["count"] = 3
    stats_of(mine, "nOffered", 1)[2]["count"] = 4  # the same cell: 4 calls against 3, 33 %
    assert (interval, queue, "offered") not in cells_out(mine, genesys), "within the floor of one call"


def test_the_cli_reports_json_and_exits_1_when_out_of_tolerance(
    documents: tuple[dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours, theirs = documents
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump({"profiles": [PROFILE.model_dump(mode="json")]}))
    monkeypatch.setenv("STREAMVANE_SETTINGS_FILE", str(settings))
    ours_file, theirs_file = tmp_path / "ours.json", tmp_path / "theirs.json"
    ours_file.write_bytes(orjson.dumps(ours))
    perturbed = copy.deepcopy(theirs)
    stats_of(perturbed, "nOffered", 40)[2]["count"] += 10
    theirs_file.write_bytes(orjson.dumps(perturbed))
    span = ["--from", "2026-01-01T00:00:00Z", "--to", "2099-01-01T00:00:00Z"]
    args = [
        "reconcile",
        "--profile",
        "wfm-15",
        *span,
        "--ours",
        str(ours_file),
        "--genesys",
        str(theirs_file),
    ]
    assert main([*args, "--format", "json"]) == 1
    report = orjson.loads(capsys.readouterr().out)
    [bad] = [c for c in report["cells"] if c["verdict"] == "out" and c["field"] == "offered"]
    assert set(bad) >= {
        "interval",
        "queue_id",
        "media_type",
        "field",
        "ours",
        "theirs",
        "deviation",
        "tolerance",
        "verdict",
    }
    assert bad["theirs"] == bad["ours"] + 10 and report["out"] >= 1
    assert main(args) == 1
    assert "out" in capsys.readouterr().out
    theirs_file.write_bytes(orjson.dumps(ours))
    assert main(args) == 0
    assert main([*args[:-1], str(tmp_path / "missing.json")]) == 2
    assert "reconcile:" in capsys.readouterr().err


def test_the_records_the_stages_emit_agree_with_the_truth_field_by_field() -> None:
    """What ``--feed`` judges: the feed records themselves (here from the worker's own stage code,
    in process), latest revision per interval, against the simulator's independent truth."""
    conversations = simulate(SPEC)
    dims = tuple(Dimension(queue_id=q, media_type=s.media_type) for q, s in queue_directory(SPEC).items())
    profile = PROFILE.model_copy(update={"dimensions": dims})
    pipeline = Pipeline((profile,), start_ms=SPEC.start_ms)
    pipeline.feed([line for _, line in delivery(SPEC, conversations)], tick_ms=SPEC.end_ms + 6 * 3_600_000)
    ours = records_as_cells(pipeline.records, profile.id)
    assert len(ours) == len({r.interval_start_ms for r in pipeline.records}) * len(dims), "zero rows too"
    theirs = parse_aggregates(
        aggregates_response(ground_truth(conversations, profile.grid(), KPI).cells, profile.grid(), KPI)
    )
    result = reconcile(profile, ours, theirs, SPEC.start_ms, SPEC.end_ms)
    assert [c for c in result if c.verdict == "out"] == []
    assert sum(1 for c in result if c.field == "offered" and c.theirs) > 10, "real traffic was compared"
