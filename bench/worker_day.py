"""A whole simulated day through one real `streamvane worker`: its RSS over time and the size of
its state directory (RocksDB) at the end, on the local broker.

Issue 9 asks what exact KPIs under real delivery cost a worker for 24 h of 5,000 agents: every
session is kept for the 26-hour de-duplication horizon. The events come from a file written by
``streamvane simulate`` and are produced unkeyed into one input partition (so the day is not
skewed across partitions); the worker runs with its defaults. The run ends when the worker has
forwarded every event and its correlate watermark has reached the end of the day, or at
``--budget-s`` (reported as such).

Run: ``python -m bench.worker_day --events FILE [--budget-s 3600]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.report import emit
from streamvane.commands.processes import free_port
from streamvane.genesys.lines import read_lines
from streamvane.kpi.intervals import format_instant
from tests.support.worker import WorkerRun

PROFILE = {"id": "wfm-utc-15", "version": 1, "cadence": "PT15M", "time_zone": "UTC"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def watermark(port: int) -> float | None:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return None
    marks = [
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("streamvane_watermark")
    ]
    return min(marks) if marks else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--budget-s", type=float, default=3600)
    args = parser.parse_args()
    with args.events.open("rb") as stream:
        lines = [line for line in read_lines(stream, 1 << 20) if isinstance(line, bytes)]
    first_ms = int(lines[0].split(b'"eventTime":', 1)[1].split(b",", 1)[0])
    last_ms = max(int(line.split(b'"eventTime":', 1)[1].split(b",", 1)[0]) for line in lines[-1000:])
    with tempfile.TemporaryDirectory() as tmp:
        run = WorkerRun(args.bootstrap, Path(tmp), [PROFILE], feed_start=format_instant(first_ms - 3_600_000))
        port = free_port()
        run.env["STREAMVANE_WORKER__METRICS_PORT"] = str(port)
        try:
            produced = time.perf_counter()
            run.produce_events(lines)
            produce_s = time.perf_counter() - produced
            count = len(lines)
            del lines
            run.start()
            run.wait_ready()
            assert run.proc is not None
            started = time.perf_counter()
            samples: list[tuple[float, float]] = []
            done = False
            while time.perf_counter() - started < args.budget_s:
                run.assert_alive()
                samples.append((time.perf_counter() - started, rss_mb(run.proc.pid)))
                mark = watermark(port)
                if mark is not None and mark >= last_ms - 5 * 60_000:
                    done = True
                    break
                time.sleep(10)
            elapsed = time.perf_counter() - started
            state = dir_mb(Path(tmp) / "state")
            peak = max(rss for _, rss in samples)
            rows = [
                {"minute": round(t / 60, 1), "rss_mb": rss}
                for t, rss in samples[:: max(1, len(samples) // 12)]
            ]
            emit(
                "worker_day",
                rows,
                {
                    "events": count,
                    "events_file": args.events.name,
                    "reached_end_of_day": done,
                    "elapsed_s": elapsed,
                    "events_per_s": count / elapsed if done else None,
                    "produce_s": produce_s,
                    "peak_rss_mb": peak,
                    "state_dir_mb": state,
                },
            )
        finally:
            run.cleanup()


if __name__ == "__main__":
    main()
