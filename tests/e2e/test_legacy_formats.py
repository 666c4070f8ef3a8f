"""Legacy text payloads for migrations, byte for byte: Genesys WFM's historical-data import CSV
and a fixed-width scheduler file, each over a day on which its zone changes its clocks (25 hours:
100 quarter hours, 50 half hours). The golden files were checked by hand against the layouts;
any change to a byte is a change of the contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
GOLDEN = Path(__file__).parent / "golden"
MIGRATION = ROOT / "profiles" / "migration"


def streamvane(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "streamvane", *args], capture_output=True, check=False)


@pytest.mark.parametrize(
    ("profile", "sim_start", "day", "golden", "lines"),
    [
        (
            "genesys-wfm-import.yaml",
            "2026-10-24T21:00:00Z",
            ("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"),  # Europe/Berlin, 25 Oct 2026: 25 h
            "genesys-wfm-import.2026-10-25.Europe-Berlin.csv",
            1 + 100,
        ),
        (
            "legacy-fixed-width.yaml",
            "2026-11-01T03:00:00Z",
            ("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),  # America/New_York, 1 Nov 2026: 25 h
            "legacy-fixed-width.2026-11-01.America-New_York.txt",
            50 * 2,
        ),
    ],
)
def test_a_dst_day_file_matches_its_golden_file_byte_for_byte(
    tmp_path: Path, profile: str, sim_start: str, day: tuple[str, str], golden: str, lines: int
) -> None:
    events = tmp_path / "events.jsonl"
    simulated = streamvane(
        "simulate",
        "--agents",
        "8",
        "--hours",
        "27",
        "--start",
        sim_start,
        "--seed",
        "5",
        "--out",
        str(events),
    )
    assert simulated.returncode == 0, simulated.stderr
    rendered = streamvane(
        "profiles",
        "render",
        str(MIGRATION / profile),
        "--interval",
        day[0],
        "--until",
        day[1],
        "--events",
        str(events),
    )
    assert rendered.returncode == 0, rendered.stderr
    expected = (GOLDEN / golden).read_bytes()
    assert rendered.stdout == expected
    newline = b"\r\n" if golden.endswith(".csv") else b"\n"
    assert rendered.stdout.count(newline) == lines, "a 25-hour day: every interval once, none twice"


def test_the_genesys_import_file_has_the_documented_columns_and_formats() -> None:
    header, first, *_ = (
        (GOLDEN / "genesys-wfm-import.2026-10-25.Europe-Berlin.csv").read_bytes().decode().split("\r\n")
    )
    assert header.split(",") == [
        "Interval Start UTC Date",
        "Queue",
        "Media Type",
        "Skill Set",
        "Language",
        "Offered",
        "Interactions Handled",
        "Total Handle Time (Seconds)",
    ]
    start, queue, media, skills, language, *numbers = first.split(",")
    assert (start, queue, media, skills, language) == ("2026-10-24T22:00:00Z", "Sales", "Voice", "", "")
    assert all(n.isdigit() for n in numbers)


def test_one_intervals_payload_is_the_header_and_that_intervals_rows_of_the_day_file(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    streamvane(
        *("simulate", "--agents", "8", "--hours", "27", "--start", "2026-10-24T21:00:00Z"),
        *("--seed", "5", "--out", str(events)),
    )
    rendered = streamvane(
        *("profiles", "render", str(MIGRATION / "genesys-wfm-import.yaml")),
        *("--interval", "2026-10-24T22:00:00Z", "--events", str(events)),
    )
    assert rendered.returncode == 0, rendered.stderr
    day = (GOLDEN / "genesys-wfm-import.2026-10-25.Europe-Berlin.csv").read_bytes()
    assert rendered.stdout == b"".join(day.split(b"\r\n")[i] + b"\r\n" for i in (0, 1))
