"""The README's demo, end to end: the real CLI against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import kafka

pytestmark = pytest.mark.integration


def test_demo_closes_intervals_that_match_the_simulators_ground_truth(kafka_bootstrap: str) -> None:
    topic = kafka.unique_name("demo.events")
    env = {
        **os.environ,
        "STREAMVANE_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "STREAMVANE_TOPICS__EVENTS": topic,
        "STREAMVANE_KAFKA__PARTITIONS": "3",
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "streamvane",
                "demo",
                "--intervals",
                "3",
                "--agents",
                "120",
                "--speedup",
                "1500",
                "--time-zone",
                "Asia/Kathmandu",
                "--granularity",
                "PT30M",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).parents[2],
        )
    finally:
        kafka.delete_topics(kafka_bootstrap, [topic])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("matches ground truth") == 3
    assert "DIFFERS" not in done.stdout
    assert "3 intervals closed, 0 differed" in done.stdout
    assert "2026-11-02T08:15:00.000Z – 2026-11-02T08:45:00.000Z" in done.stdout  # Nepal :00/:30 in UTC
