"""Payload versions side by side: a new version is a new feed beside the old one, and the old
one's bytes do not move."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.loader import load_profile, load_profiles
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import render
from streamvane.feeds.request import build_request
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.records.feed_record import FeedRecord

HERE = Path(__file__).parent / "versions"
GOLDEN = Path(__file__).parent / "golden"
START = 1_793_606_400_000  # 2026-11-02T08:00Z


def record(profile: FeedProfile) -> FeedRecord:
    acc = IntervalAccumulator()
    for handled in (90_000, 150_000, 120_000):
        acc.add("nOffered", 1)
        acc.add("tAnswered", 4_000)
        acc.add("tHandle", handled)
    return interval_record(profile, START, {("q-sales", "voice"): acc}, kpi=KpiConfig())


def test_v1_bytes_equal_its_golden_file_before_and_after_v2_was_added() -> None:
    before = load_profiles([HERE / "wfm-v1.yaml"])
    after = load_profiles([HERE / "wfm-v1-v2.yaml"])
    assert [p.id for p in before] == ["wfm"]
    assert [p.id for p in after] == ["wfm", "wfm.v2"]
    golden_v1 = (GOLDEN / "wfm.v1.json").read_bytes()
    assert render(before[0], record(before[0])).body == golden_v1
    assert render(after[0], record(after[0])).body == golden_v1
    v2 = after[1]
    assert render(v2, record(v2)).body == (GOLDEN / "wfm.v2.xml").read_bytes()


def test_the_versions_have_their_own_keys_and_headers_and_share_the_contract() -> None:
    v1, v2 = load_profiles([HERE / "wfm-v1-v2.yaml"])
    r1, r2 = record(v1), record(v2)
    assert r1.idempotency_key != r2.idempotency_key, "the ledger and the endpoint tell them apart"
    assert v1.endpoint is not None and v2.endpoint == v1.endpoint, "the same destination by default"
    h1 = build_request(v1, v1.endpoint, r1, render(v1, r1)).headers
    h2 = build_request(v2, v2.endpoint, r2, render(v2, r2)).headers
    assert (h1["X-Streamvane-Payload-Version"], h2["X-Streamvane-Payload-Version"]) == ("wfm/1", "wfm/2")
    assert (h1["X-Streamvane-Profile"], h2["X-Streamvane-Profile"]) == ("wfm", "wfm.v2")
    assert (v1.grid(), v1.dimensions) == (v2.grid(), v2.dimensions)
    assert [r.metrics for r in r1.rows] == [r.metrics for r in r2.rows], "computed once, the same way"


def test_profiles_validate_checks_every_version_and_warns_past_a_deprecation_date(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streamvane", "profiles", "validate", str(HERE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "ok wfm.v2 v1: PT15M Europe/Berlin, 3 fields, 1 rows, xml wfm/2" in done.stdout
    assert (
        "warning: " in done.stderr
        and "wfm delivers payload wfm/1, deprecated after 2026-06-30" in done.stderr
    )
    assert "is already used" in done.stderr, "both files define wfm: the directory holds one contract per id"


def test_a_version_that_cannot_render_is_refused_when_the_profile_loads(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        (HERE / "wfm-v1-v2.yaml").read_text().replace("{name: Offered, metric: nOffered}", "{name: Offered}")
    )
    with pytest.raises(ValueError, match="fields"):
        load_profile(path).side_by_side()
