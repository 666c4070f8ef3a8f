"""``streamvane ingest`` under load, on the real broker: a second process posts a bounded number of
NDJSON batches of simulated Genesys events over loopback, with a fixed number of concurrent
connections, and measures accepted events/s and each request's latency (2xx = stored by Kafka).
Target: ≥ 20,000 events/s in batches of 100, p99 < 250 ms, on a 2-core machine with the broker
beside it.

    python -m bench.ingest_http [--requests 2000] [--batch 100] [--concurrency 8] [--runs 3]

The load generator (``--client``) is this module in a child process, so it does not share the
server's CPU time slice accounting or event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson

from bench.report import emit, summarise
from streamvane.commands.processes import free_port
from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec

BOOTSTRAP = "127.0.0.1:19092"
KEY = "bench-ingest-key"


async def _load(url: str, batches: list[bytes], concurrency: int) -> dict[str, object]:
    latencies: list[float] = []
    accepted = 0
    statuses: dict[str, int] = {}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in batches:
        queue.put_nowait(body)
    headers = {"x-api-key": KEY, "Content-Type": "application/x-ndjson"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal accepted
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                doc = await response.read()
                latencies.append(time.perf_counter() - started)
                statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
                if response.status == 200:
                    accepted += int(orjson.loads(doc)["accepted"])

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "accepted": accepted,
        "seconds": elapsed,
        "events_per_s": accepted / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "statuses": statuses,
    }


def client(args: argparse.Namespace) -> int:
    spec = SimulationSpec(agents=400, hours=8, seed=3)
    lines = [line for _, line in delivery(spec, simulate(spec))]
    needed = args.requests * args.batch
    lines = (lines * (needed // len(lines) + 1))[:needed]
    batches = [b"\n".join(lines[i : i + args.batch]) for i in range(0, needed, args.batch)]
    result = asyncio.run(_load(args.url, batches, args.concurrency))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


def server(topic: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVANE_")}
    env.update(
        STREAMVANE_KAFKA__BOOTSTRAP_SERVERS=BOOTSTRAP,
        STREAMVANE_TOPICS__EVENTS=topic,
        STREAMVANE_TOPICS__QUARANTINE=f"{topic}.quarantine",
        STREAMVANE_INGEST__PORT=str(port),
        STREAMVANE_INGEST__API_KEYS='[{"env": "BENCH_KEY"}]',
        STREAMVANE_LOG_LEVEL="WARNING",
        BENCH_KEY=KEY,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamvane", "ingest"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ingest: http://" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"ingest did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return proc


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client(args)
    from tests.support import kafka

    results = []
    for run in range(args.runs):
        topic = kafka.create_topic(BOOTSTRAP, kafka.unique_name("bench-ingest"), partitions=4)
        port = free_port()
        log = Path(f"/tmp/bench-ingest-{run}.log")
        proc = server(topic, port, log)
        try:
            out = subprocess.run(
                [
                    sys.executable, "-m", "bench.ingest_http", "--client",
                    "--url", f"http://127.0.0.1:{port}/events",
                    "--requests", str(args.requests), "--batch", str(args.batch),
                    "--concurrency", str(args.concurrency),
                ],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if out.returncode != 0:
                raise SystemExit(f"the load generator failed:\n{out.stderr[-3000:]}")
            results.append(orjson.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            kafka.delete_topics(BOOTSTRAP, [topic, f"{topic}.quarantine"])
    rates = [float(r["events_per_s"]) for r in results]
    rows = [
        {
            "run": i + 1,
            "events": int(r["accepted"]),
            "seconds": float(r["seconds"]),
            "events/s": float(r["events_per_s"]),
            "p50 ms": float(r["p50_ms"]),
            "p99 ms": float(r["p99_ms"]),
            "statuses": str(r["statuses"]),
        }
        for i, r in enumerate(results)
    ]
    emit(
        "ingest_http",
        rows,
        {
            "batch": args.batch,
            "concurrency": args.concurrency,
            "requests_per_run": args.requests,
            "events_per_s": summarise(rates),
            "p99_ms_median": statistics.median(float(r["p99_ms"]) for r in results),
            "target": ">= 20,000 events/s in batches of 100, p99 < 250 ms",
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
