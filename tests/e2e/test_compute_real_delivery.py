"""`streamvane compute` on what real delivery brings: the issue's reordered, duplicated day, and
bad values that must be refused on their own line while every good line still counts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.e2e.test_cli import streamvane
from tests.support.genesys import Conversation, at


@pytest.mark.parametrize("reorder_ms", ["600000", "3600000"])
def test_a_reordered_day_with_duplicates_equals_the_truth_in_every_stat(
    tmp_path: Path, reorder_ms: str
) -> None:
    events, truth = tmp_path / "ev.jsonl", tmp_path / "truth.json"
    sim = streamvane(
        "simulate", "--agents", "200", "--hours", "4", "--seed", "11", "--reorder-ms", reorder_ms,
        "--duplicate-rate", "0.02", "--out", str(events), "--truth", str(truth),
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    out = streamvane("compute", "--events", str(events))
    assert out.returncode == 0, out.stderr
    assert orjson.loads(out.stdout) == orjson.loads(truth.read_bytes())


def _good_call() -> list[bytes]:
    c = Conversation()
    c.queue("q", at("09:00"), at("09:00:12"))
    return c.lines()


def test_bad_values_are_refused_on_their_own_line_and_the_good_lines_still_count(tmp_path: Path) -> None:
    huge = Conversation()
    huge.agent("q", ended=at("09:02"), talk_ms=2**62, held_ms=2**62)  # their sum passes 2^64
    empty_queue = Conversation()
    empty_queue.queue("", at("09:03"), None)
    wrong_case = orjson.loads(_good_call()[0])
    wrong_case["detail"]["topicName"] = wrong_case["detail"]["topicName"].replace("acd.start", "ACD.START")
    lines = [
        *huge.lines(),
        *empty_queue.lines(),
        orjson.dumps(wrong_case),
        b'{"pad": "' + b"x" * 5_000_000 + b'"}',
        *_good_call(),
    ]
    events = tmp_path / "bad.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    out = streamvane("compute", "--events", str(events))
    assert out.returncode == 0, out.stderr
    stderr = out.stderr.decode()
    assert "rejected line 1: invalid-value: eventBody.interactingDurationMs" in stderr
    assert "rejected line 2: invalid-value: eventBody.queueId" in stderr
    assert "rejected line 3: unknown-topic: topic suffix 'ACD.START'" in stderr
    assert "rejected line 4: too-large: 5000011 bytes" in stderr
    doc = orjson.loads(out.stdout)
    assert [g["group"] for g in doc["results"]] == [{"queueId": "q", "mediaType": "voice"}]
    metrics = {row["metric"]: row["stats"] for row in doc["results"][0]["data"][0]["metrics"]}
    assert metrics["nOffered"] == {"count": 1}
    assert metrics["tAnswered"]["sum"] == 12_000


def test_a_closed_stdout_ends_compute_quietly(tmp_path: Path) -> None:
    events = tmp_path / "ev.jsonl"
    assert streamvane("simulate", "--agents", "40", "--hours", "2", "--out", str(events)).returncode == 0
    compute = subprocess.Popen(
        [sys.executable, "-m", "streamvane", "compute", "--events", str(events)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert compute.stdout is not None and compute.stderr is not None
    head = subprocess.run(["head", "-c", "100"], stdin=compute.stdout, capture_output=True, timeout=300)
    compute.stdout.close()  # only head holds the pipe now: it exits after 100 bytes
    stderr = compute.stderr.read()
    assert compute.wait(timeout=300) == 0
    assert len(head.stdout) == 100
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr
