"""Benchmark output: a printed table and a JSON file under ``bench/results/``."""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).parent / "results"


def repeat(runs: int, work: Callable[[], int]) -> list[float]:
    """Items per second of ``work`` (which returns how many items it handled), ``runs`` times."""
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        items = work()
        rates.append(items / (time.perf_counter() - started))
    return rates


def summarise(rates: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(rates), "best": max(rates), "worst": min(rates)}


def emit(name: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> Path:
    """Print ``rows`` as a table and save everything as ``bench/results/<name>.json``."""
    columns = list(rows[0])
    widths = [max(len(str(c)), *(len(_fmt(r[c])) for r in rows)) for c in columns]
    line = "  ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True))
    sys.stdout.write(f"\n{name}\n{line}\n{'-' * len(line)}\n")
    for r in rows:
        sys.stdout.write("  ".join(_fmt(r[c]).ljust(w) for c, w in zip(columns, widths, strict=True)) + "\n")
    for key, value in extra.items():
        sys.stdout.write(f"{key}: {_fmt(value)}\n")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": _cpus()}
    payload = {"benchmark": name, "machine": machine, "rows": rows, **extra}
    path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    sys.stdout.write(f"saved {path}\n")
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
