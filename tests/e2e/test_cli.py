"""`streamvane simulate` and `streamvane compute` as a user runs them (no Kafka needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson


def streamvane(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streamvane", *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
    )


def test_compute_of_a_simulated_day_equals_its_ground_truth_byte_for_byte(tmp_path: Path) -> None:
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.json"
    sim = streamvane(
        "simulate",
        "--agents",
        "60",
        "--hours",
        "2",
        "--seed",
        "3",
        "--out",
        str(events),
        "--truth",
        str(truth),
        "--granularity",
        "PT30M",
        "--time-zone",
        "America/New_York",
        "--reorder-ms",
        "60000",
        "--duplicate-rate",
        "0.1",
    )
    assert sim.returncode == 0, sim.stderr
    assert b"simulate: events written" in sim.stderr
    out = streamvane(
        "compute", "--events", str(events), "--granularity", "PT30M", "--time-zone", "America/New_York"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == truth.read_bytes()
    doc = orjson.loads(out.stdout)
    assert doc["results"] and all(d["interval"].endswith("Z") for g in doc["results"] for d in g["data"])
    assert b'"duplicates":' in out.stderr


def test_rejected_lines_go_to_stderr_with_reasons_and_do_not_stop_the_run(tmp_path: Path) -> None:
    good = streamvane("simulate", "--agents", "5", "--hours", "0.5", "--seed", "1").stdout.splitlines()[:50]
    lines = [*good[:10], b"{broken", b'{"detail": {"eventBody": {"eventTime": "x"}}}', b"", *good[10:]]
    out = streamvane("compute", "--events", "-", stdin=b"\n".join(lines) + b"\n")
    assert out.returncode == 0
    assert b"rejected line 11: not-json" in out.stderr
    assert b"rejected line 12: missing-field: topicName" in out.stderr
    assert b'"rejected":{"not-json":1,"missing-field":1}' in out.stderr
    assert orjson.loads(out.stdout)["results"]


def test_unreadable_input_and_bad_options_fail_with_a_clear_message(tmp_path: Path) -> None:
    missing = streamvane("compute", "--events", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and b"cannot read" in missing.stderr
    bad_zone = streamvane("compute", "--events", "-", "--time-zone", "Mars/Base", stdin=b"")
    assert bad_zone.returncode == 2 and b"unknown IANA time zone 'Mars/Base'" in bad_zone.stderr
    config = tmp_path / "kpi.yaml"
    config.write_text("short_abandon_ms: -5\n")
    bad_config = streamvane("compute", "--events", "-", "--kpi-config", str(config), stdin=b"")
    assert bad_config.returncode == 2
    assert f"{config}: invalid KPI config: short_abandon_ms".encode() in bad_config.stderr


def test_invalid_settings_name_the_file_and_every_field(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text('profiles:\n  - {id: "Bad Id", version: 0, cadence: PT5M}\n')
    done = subprocess.run(
        [sys.executable, "-m", "streamvane", "settings"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STREAMVANE_SETTINGS_FILE": str(settings)},
    )
    assert done.returncode == 2
    assert f"invalid settings ({settings})" in done.stderr
    for field in (
        "profiles.0.id",
        "profiles.0.version",
        "profiles.0.cadence: Value error, unsupported granularity",
    ):
        assert field in done.stderr
    assert "Traceback" not in done.stderr
