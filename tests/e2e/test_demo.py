"""The README's main command, end to end: `streamvane demo --intervals 4 --receiver-log FILE`
against the real broker, with the real worker, dispatcher and receiver processes, and continuous
reconciliation against the demo's Genesys stand-in catching a deliberately wrong restatement."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support import kafka

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]


DEMO_ARGS = ["--intervals", "4", "--wrong-restatement"]


def run_demo(
    kafka_bootstrap: str, tmp_path: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    log = tmp_path / "received.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVANE_")}
    env["STREAMVANE_KAFKA__BOOTSTRAP_SERVERS"] = kafka_bootstrap
    env["STREAMVANE_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "streamvane", "demo", *DEMO_ARGS, "--receiver-log", str(log), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    return done, log


@pytest.fixture(scope="module")
def kafka_demo(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The README's demo, events produced to Kafka (run once for the tests that read it)."""
    return run_demo(kafka_bootstrap, tmp_path_factory.mktemp("kafka-demo"))


def delivered(log: Path) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(profile, interval, revision) → (Idempotency-Key, body) of the first 4 intervals of each
    profile the receiver got (the demo may deliver one more before it stops)."""
    out = {}
    for line in log.read_text().splitlines():
        doc = orjson.loads(line)
        h = doc["headers"]
        key = (h["X-Streamvane-Profile"], h["X-Streamvane-Interval"], h["X-Streamvane-Revision"])
        out[key] = (h["Idempotency-Key"], doc["body"])
    first: dict[str, list[str]] = {}
    for profile, interval, _ in sorted(out):
        first.setdefault(profile, [])
        if interval not in first[profile]:
            first[profile].append(interval)
    return {k: v for k, v in out.items() if k[1] in first[k[0]][:4]}


def test_the_demo_through_http_ingest_delivers_the_same_feed_records_as_through_kafka(
    kafka_bootstrap: str, tmp_path: Path, kafka_demo: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    done, log = run_demo(kafka_bootstrap, tmp_path, "--via-http")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12/12 intervals delivered, 12 validated by the receiver, 12 equal to ground truth" in done.stdout
    via_kafka = delivered(kafka_demo[1])
    assert len(via_kafka) >= 13, "12 intervals and the wrong restatement"
    assert delivered(log) == via_kafka, "same records: same idempotency keys and bodies"


def test_demo_delivers_validated_intervals_that_equal_the_ground_truth(
    kafka_bootstrap: str, kafka_demo: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    done, log = kafka_demo
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = re.search(r"^streamvane demo: run (\w+);", done.stdout, re.M)
    assert run_id is not None
    left = [group for group in kafka.consumer_groups(kafka_bootstrap) if run_id[1] in group]
    assert left == [], "no consumer group of the run outlives the demo"
    assert "12/12 intervals delivered, 12 validated by the receiver, 12 equal to ground truth" in done.stdout
    assert "DIFFERENT" not in done.stdout
    assert "12/12 intervals reconciled with Genesys within tolerance" in done.stdout
    assert re.search(r"^status page: http://127\.0\.0\.1:\d+/status$", done.stdout, re.M)
    assert re.search(r"^read API: http://127\.0\.0\.1:\d+/api/v1/", done.stdout, re.M)
    same = re.search(r"read API: (\d+)/(\d+) documents equal byte for byte the JSON bodies", done.stdout)
    assert same is not None and same[1] == same[2] and int(same[1]) >= 8, (
        "at least the 8 wanted JSON intervals"
    )
    assert (
        "the deliberately wrong restatement calabrio-queue-stats 2026-11-02T08:00:00.000Z revision 2 "
        "was reported OUT" in done.stdout
    )
    assert "revision 2 OUT of tolerance: offd_direct_call_cnt" in done.stdout, "calabrio's offered field"
    metrics = [
        line.strip()
        for line in done.stdout.splitlines()
        if line.strip().startswith("streamvane_reconciliation")
    ]
    assert (
        'streamvane_reconciliation_cells_total{profile="calabrio-queue-stats",verdict="out"} 1.0' in metrics
    )
    assert any(
        m.startswith('streamvane_reconciliation_cells_total{profile="legacy-xml",verdict="ok"}')
        for m in metrics
    )
    alerts = _samples(done.stdout)  # on-time ratio and restatements: not in a past day replayed at 120x
    assert set(alerts) >= {
        "streamvane_consumer_lag",
        "streamvane_watermark_timestamp_seconds",
        "streamvane_interval_close_to_ack_seconds_count",
    }, "the worker's and the dispatcher's alert metrics are served"
    assert all(v >= 0 for v in alerts["streamvane_consumer_lag"])
    assert min(alerts["streamvane_watermark_timestamp_seconds"]) >= 1_793_606_400, "within the simulated day"
    assert sum(alerts["streamvane_interval_close_to_ack_seconds_count"]) >= 12, "every first delivery timed"

    received = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    by_profile: dict[str, list[dict[str, Any]]] = {}
    for entry in received:
        assert entry["status"] == 200 and entry["valid"], entry
        by_profile.setdefault(entry["headers"]["X-Streamvane-Profile"], []).append(entry)
    assert set(by_profile) == {"genesys-wfm-historical", "calabrio-queue-stats", "legacy-xml"}
    legacy = by_profile["legacy-xml"][0]
    assert legacy["headers"]["Content-Type"] == "application/xml; charset=utf-8"
    assert str(legacy["body"]).startswith("<?xml")
    assert legacy["headers"]["Authorization"] == "Bearer ***"
    genesys = by_profile["genesys-wfm-historical"][0]
    assert genesys["method"] == "PUT"
    assert orjson.loads(str(genesys["body"]))["interval"]["startUtc"] == "2026-11-02T08:00:00Z"
    finals = [e for e in by_profile["calabrio-queue-stats"] if "X-Streamvane-Provisional" not in e["headers"]]
    calabrio = [
        orjson.loads(str(e["body"]))["interval"]["start"]
        for e in finals
        if e["headers"]["X-Streamvane-Revision"] == "1"
    ]
    assert calabrio[:4] == [f"2026-11-02T09:{m}:00+01:00" for m in ("00", "15", "30", "45")], "in order"


def test_the_demo_pushes_provisional_updates_then_the_final_as_without_updates(
    kafka_demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """calabrio-queue-stats opts in to an update every 5 minutes: the receiver's own log shows
    each quarter hour's updates, numbered upwards and marked in the body, then its final, nothing
    of it after; the demo checks each final's bytes against the profile without updates."""
    done, log = kafka_demo
    checks = re.findall(
        r"^streamvane demo: calabrio-queue-stats (\S+): (\d+) provisional updates .* then the final; "
        r"final body byte-identical to the same profile without updates$",
        done.stdout,
        re.M,
    )
    assert len(checks) == 4 and all(int(n) >= 1 for _, n in checks), done.stdout[-3000:]
    assert "AFTER it" not in done.stdout
    assert re.search(r"calabrio-queue-stats\s+provisional update 1 delivered \(as of ", done.stdout)
    story: dict[str, list[tuple[int, str | None]]] = {}
    for entry in (orjson.loads(line) for line in log.read_bytes().splitlines()):
        headers = entry["headers"]
        if headers["X-Streamvane-Profile"] != "calabrio-queue-stats":
            continue
        update = headers.get("X-Streamvane-Provisional")
        body = orjson.loads(str(entry["body"]))
        assert ("provisional" in body) == (update is not None), "the body says what the header says"
        story.setdefault(headers["X-Streamvane-Interval"], []).append((entry["receivedMs"], update))
    first_four = sorted(story)[:4]
    for interval in first_four:
        requests = [update for _, update in sorted(story[interval])]
        final_at = requests.index(None)
        updates = [int(u) for u in requests[:final_at] if u is not None]
        assert updates and updates == sorted(set(updates)), (interval, requests)
        assert all(u is None for u in requests[final_at:]), f"{interval}: an update after the final"


def _samples(stdout: str) -> dict[str, list[float]]:
    """Metric name -> values, from the demo's printed /metrics lines."""
    out: dict[str, list[float]] = {}
    for line in stdout.splitlines():
        text = line.strip()
        if text.startswith("streamvane_") and "{" in text:
            out.setdefault(text.split("{", 1)[0], []).append(float(text.rsplit(" ", 1)[1]))
    return out
