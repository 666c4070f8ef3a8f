"""``streamvane demo``: the whole product, live, on the local Kafka.

What runs (each in its own process, logs under ``<data_dir>/demo-<run>/``):
- a simulated contact center (500 agents by default) producing Genesys events on an accelerated
  clock (``--speedup`` simulated seconds per real second) to the event topic;
- ``streamvane worker``: the Faust topology that turns them into Avro feed records;
- ``streamvane dispatch``: delivery of every record to its profile's endpoint;
- ``streamvane receiver``: a local WFM endpoint that checks credentials and validates every
  payload against the profile's contract (JSON Schema / XSD), and logs each request;
- a stand-in for Genesys' analytics API (in this process, :mod:`.demo_genesys`) serving the
  simulator's own figures, which the dispatcher's continuous reconciliation judges every interval
  against (``--wrong-restatement`` restates one interval with 5 calls too many, to show it caught).
The profiles come from ``--profiles-dir``; their endpoints are pointed at the local receiver
and their secrets are generated for this run (environment variables, never printed).

The live view reads the delivery ledger: one line per delivered interval with its profile, rows,
status, attempts and latency after close (wall-clock seconds from the moment the simulated clock
passed the interval's end). It also checks each record's KPIs against the simulator's ground
truth. ``--intervals N`` stops after the first N intervals of every profile; the exit status is
0 only if all of them were delivered, accepted by the receiver as valid, equal to the truth and
reconciled with Genesys within tolerance (and, with ``--wrong-restatement``, the wrong one
reported out of tolerance).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import yaml

from streamvane.broker.preflight import open_kafka
from streamvane.broker.producer import OutputProducer
from streamvane.commands.demo_genesys import GenesysStandIn
from streamvane.commands.demo_provisional import ProvisionalWatch
from streamvane.commands.demo_view import DemoView
from streamvane.commands.event_feed import Clock, produce_paced
from streamvane.commands.event_post import PostTarget, post_paced
from streamvane.commands.processes import Children, free_port, wait_for_line
from streamvane.feeds.endpoint import OAuth2ClientCredentials
from streamvane.feeds.loader import load_profiles_dir
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.intervals import format_instant, parse_instant
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord, idempotency_key
from streamvane.settings import Settings
from streamvane.simulator.contact_center import simulate
from streamvane.simulator.spec import SimulationSpec
from streamvane.simulator.truth import ground_truth

DEMO_SECRETS = (
    "STREAMVANE_DEMO_OAUTH_SECRET",
    "STREAMVANE_DEMO_BASIC_PASSWORD",
    "STREAMVANE_DEMO_BEARER_TOKEN",
    "STREAMVANE_DEMO_GENESYS_CLIENT_ID",
    "STREAMVANE_DEMO_GENESYS_SECRET",
    "STREAMVANE_DEMO_READ_TOKEN",
    "STREAMVANE_DEMO_INGEST_KEY",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="run the live demo: simulator -> Kafka -> worker -> dispatcher -> receiver"
    )
    p.add_argument("--intervals", type=int, default=8, help="stop after this many intervals per profile")
    p.add_argument("--receiver-log", type=Path, help="write every received request here as a JSON line")
    p.add_argument("--profiles-dir", type=Path, default=Path("profiles"))
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--speedup", type=float, default=120.0, help="simulated seconds per real second")
    p.add_argument("--start", default="2026-11-02T08:00:00Z", help="simulated start instant (interval start)")
    p.add_argument("--timeout", type=float, default=900.0, help="give up after this many real seconds")
    p.add_argument("--keep", action="store_true", help="keep the demo's topics afterwards")
    p.add_argument(
        "--via-http",
        action="store_true",
        help="feed the events through `streamvane ingest` (HTTP, as an EventBridge API destination) "
        "instead of producing them to Kafka",
    )
    p.add_argument(
        "--wrong-restatement",
        action="store_true",
        help="restate one interval with 5 calls too many: continuous reconciliation must report it",
    )
    p.set_defaults(handler=run)


def demo_profiles(directory: Path, receiver: str) -> list[FeedProfile]:
    """The profiles with their endpoints (and token URLs) moved to the local receiver."""
    out = []
    for profile in load_profiles_dir(directory):
        endpoint = profile.endpoint
        if endpoint is not None:
            path = endpoint.url.removeprefix(endpoint.origin)
            auth = endpoint.auth
            if isinstance(auth, OAuth2ClientCredentials):
                auth = auth.model_copy(update={"token_url": receiver + "/oauth/token"})
            update = {"url": receiver + path, "auth": auth, "allow_insecure_http": True}  # 127.0.0.1
            endpoint = endpoint.model_copy(update=update)
        out.append(profile.model_copy(update={"endpoint": endpoint}))
    return out


def wrong_restatement(record: FeedRecord, extra_offered: int = 5) -> FeedRecord:
    """The next revision of ``record`` with ``extra_offered`` more calls in its busiest row: what
    a faulty recompute would publish, for reconciliation to catch."""
    row = max(record.rows, key=lambda r: next((m.count for m in r.metrics if m.metric == "nOffered"), 0))
    metrics = tuple(
        replace(m, count=m.count + extra_offered) if m.metric == "nOffered" else m for m in row.metrics
    )
    rows = tuple(replace(r, metrics=metrics) if r is row else r for r in record.rows)
    revision = record.revision + 1
    key = idempotency_key(record.profile_id, record.profile_version, record.interval_start_ms, revision, rows)
    return replace(record, revision=revision, rows=rows, idempotency_key=key)


def _check_read_api(port: int, token: str, profiles: list[FeedProfile], receiver_log: Path) -> None:
    """Every JSON body the receiver got, against the read API's document of the same interval
    and revision: the dashboard and the WFM must see the same numbers."""
    received = {}
    for line in receiver_log.read_bytes().splitlines() if receiver_log.exists() else []:
        entry = orjson.loads(line)
        if entry["headers"].get("Content-Type", "").startswith("application/json"):
            received[entry["headers"]["Idempotency-Key"].strip('"')] = str(entry["body"]).encode()
    served = {}
    for profile in profiles:
        url = (
            f"http://127.0.0.1:{port}/api/v1/intervals?profile={profile.id}&limit=1000"
            "&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
        )
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
                for item in orjson.loads(resp.read())["items"]:
                    served[item["idempotencyKey"]] = orjson.dumps(item["document"])
        except OSError as exc:
            sys.stdout.write(f"streamvane demo: read API unavailable: {exc}\n")
            return
    latest = [key for key in served if key in received]  # a restated interval: its newest revision
    same = sum(1 for key in latest if served[key] == received[key])
    sys.stdout.write(
        f"streamvane demo: read API: {same}/{len(latest)} documents equal byte for byte the JSON bodies "
        "the receiver got\n"
    )


# What operators alert on, and reconciliation: shown from each process's own /metrics at the end.
SHOWN_METRICS = (
    "streamvane_consumer_lag{",
    "streamvane_watermark_timestamp_seconds{",
    "streamvane_interval_close_to_ack_seconds_count{",
    "streamvane_feed_on_time_ratio{",
    "streamvane_dead_letters_total{",
    "streamvane_restatements_total{",
    "streamvane_reconciliation_cells_total{",
    "streamvane_reconciliation_max_relative_deviation{",
)


def _show_metrics(ports: dict[str, int]) -> None:
    """The alert metrics as Prometheus scrapes them from the worker and the dispatcher."""
    for name, port in ports.items():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
        except OSError as exc:
            sys.stdout.write(f"streamvane demo: {name} metrics unavailable: {exc}\n")
            continue
        sys.stdout.write(f"\n{name} metrics (http://127.0.0.1:{port}/metrics):\n")
        for line in text.splitlines():
            if line.startswith(SHOWN_METRICS):
                sys.stdout.write(f"  {line}\n")


def run(args: argparse.Namespace) -> int:
    base = Settings()
    run_id = uuid.uuid4().hex[:8]
    log_dir = (base.data_dir / f"demo-{run_id}").resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    receiver = f"http://127.0.0.1:{port}"
    try:
        profiles = demo_profiles(args.profiles_dir, receiver)
    except ValueError as exc:
        sys.stderr.write(f"demo: {exc}\n")
        return 2
    delivering = [p for p in profiles if p.endpoint is not None]
    sim_start = parse_instant(args.start)
    longest = max(p.grid().length_ms for p in delivering)
    grace = max(p.grace_ms for p in delivering)
    hours = (args.intervals * longest + grace + 3_600_000) / 3_600_000
    spec = SimulationSpec(agents=args.agents, seed=args.seed, hours=hours, start_ms=sim_start)
    kpi = base.kpi
    sys.stdout.write(f"streamvane demo: simulating {args.agents} agents for {hours:.1f} h …\n")
    conversations = simulate(spec)
    truths = {p.id: ground_truth(conversations, p.grid(), kpi).snapshot() for p in delivering}

    topics = {name: f"demo.{run_id}.{name}" for name in base.topics.model_fields}
    view_group = f"sv-demo-{run_id}-view"
    metrics_port, serve_port, worker_metrics_port, ingest_port = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    )
    genesys_env = {name: os.environ.get(name) or secrets.token_urlsafe(18) for name in DEMO_SECRETS}
    genesys = GenesysStandIn(
        conversations,
        kpi,
        genesys_env["STREAMVANE_DEMO_GENESYS_CLIENT_ID"],
        genesys_env["STREAMVANE_DEMO_GENESYS_SECRET"],
    )
    settings_doc: dict[str, Any] = {
        "kafka": base.kafka.model_dump(mode="json"),
        "topics": topics,
        "worker": {
            **base.worker.model_dump(mode="json"),
            "app_id": f"sv-demo-{run_id}",
            "metrics_port": worker_metrics_port,
            "feed_start": args.start,
            "ticks_enabled": False,
            "batch_within_s": 0.1,
            "open_cells_every_s": 0.5,  # a minute of the simulated clock
            "provisional_max_lag_s": 0,  # the simulated day is in the past: updates all the same
        },
        "dispatcher": {
            **base.dispatcher.model_dump(mode="json"),
            "group_id": f"sv-demo-dispatch-{run_id}",
            "metrics_port": metrics_port,
        },
        "genesys": {
            "client_id": {"env": "STREAMVANE_DEMO_GENESYS_CLIENT_ID"},
            "client_secret": {"env": "STREAMVANE_DEMO_GENESYS_SECRET"},
            "login_url": genesys.url,
            "api_url": genesys.url,
            "reconcile_continuously": True,
            "reconcile_after_s": 0,
        },
        "kpi": kpi.model_dump(mode="json"),
        "profiles": [p.model_dump(mode="json") for p in profiles],
        "data_dir": str(log_dir / "state"),
        "serve": {"port": serve_port, "token": {"env": "STREAMVANE_DEMO_READ_TOKEN"}},
        "ingest": {"port": ingest_port, "api_keys": [{"env": "STREAMVANE_DEMO_INGEST_KEY"}]},
        "log_level": "INFO",
    }
    demo_settings = Settings.model_validate(settings_doc)
    settings_file = log_dir / "settings.yaml"
    settings_file.write_text(yaml.safe_dump(settings_doc, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVANE_")}
    env["STREAMVANE_SETTINGS_FILE"] = str(settings_file)
    env.update(genesys_env)
    receiver_log = (args.receiver_log or log_dir / "receiver.jsonl").resolve()
    receiver_log.unlink(missing_ok=True)

    children = Children()
    stop = threading.Event()
    clock = Clock(sim_start, args.speedup)
    view = DemoView(
        profiles=delivering,
        intervals=args.intervals,
        clock=clock,
        truths=truths,
        kpi=kpi,
        inject=wrong_restatement if args.wrong_restatement else None,
    )
    updates = ProvisionalWatch(delivering, receiver_log)
    codec = AvroCodec()
    kafka = open_kafka(base.kafka)
    publisher = OutputProducer(kafka)

    def publish(record: FeedRecord) -> None:
        header = [(FINGERPRINT_HEADER, codec.fingerprint.encode())]
        publisher.produce(
            topics["feed_records"], codec.encode(record), record.compaction_key.encode(), header
        )
        publisher.flush_or_raise(30)

    try:
        from streamvane.broker.topics import ensure_topics

        genesys.start()
        ensure_topics(demo_settings, kafka)
        children.start(
            "receiver",
            [
                "receiver",
                "--port",
                str(port),
                "--profiles-dir",
                str(args.profiles_dir),
                "--log",
                str(receiver_log),
            ],
            env,
            log_dir,
        )
        children.start("worker", ["worker", "--loglevel", "info"], env, log_dir)
        children.start("dispatcher", ["dispatch"], env, log_dir)
        children.start("serve", ["serve"], env, log_dir)
        if args.via_http:
            children.start("ingest", ["ingest"], env, log_dir)
            wait_for_line(log_dir / "ingest.log", "ingest: http://", children, 60)
        sys.stdout.write(
            f"streamvane demo: run {run_id}; broker {kafka.describe()}; receiver {receiver}; "
            f"logs in {log_dir}\n"
            f"status page: http://127.0.0.1:{serve_port}/status\n"
            f"read API: http://127.0.0.1:{serve_port}/api/v1/ (bearer token in $STREAMVANE_DEMO_READ_TOKEN "
            "of the demo's processes, or set it before starting the demo)\n"
        )
        wait_for_line(log_dir / "worker.log", "[^Worker]: Ready", children, 180)
        wait_for_line(log_dir / "dispatcher.log", "dispatching", children, 60)
        sys.stdout.write(
            f"streamvane demo: clock x{args.speedup:g} from {format_instant(sim_start)}; "
            f"{len(delivering)} profiles; grace {grace / 60_000:g} min "
            f"= {grace / args.speedup / 1000:.1f} s real\n\n"
        )
        sys.stdout.write(view.header())
        clock.wall_start_ms = time.time_ns() // 1_000_000
        if args.via_http:
            target = PostTarget(
                f"http://127.0.0.1:{ingest_port}/events",
                {"x-api-key": genesys_env["STREAMVANE_DEMO_INGEST_KEY"]},
            )

            def post_all() -> None:
                try:
                    asyncio.run(post_paced(target, spec, conversations, clock, stop))
                except (OSError, TimeoutError, ValueError) as exc:
                    sys.stderr.write(f"streamvane demo: posting events to ingest failed: {exc}\n")

            feeder = threading.Thread(target=post_all, daemon=True)
        else:
            feeder = threading.Thread(
                target=produce_paced,
                args=(kafka, topics["events"], spec, conversations, clock, stop),
                daemon=True,
            )
        feeder.start()
        view.follow(kafka, view_group, topics, children, args.timeout, publish, updates.poll)
        _show_metrics({"worker": worker_metrics_port, "dispatcher": metrics_port})
        _check_read_api(serve_port, genesys_env["STREAMVANE_DEMO_READ_TOKEN"], delivering, receiver_log)
    except (RuntimeError, KeyboardInterrupt) as exc:
        sys.stdout.write(f"\nstreamvane demo: stopped: {exc}\n")
    finally:
        stop.set()
        children.stop()
        genesys.close()
        if not args.keep:
            shutil.rmtree(log_dir / "state", ignore_errors=True)
            from streamvane.broker.topics import delete_topology

            with contextlib.suppress(Exception):
                left = delete_topology(demo_settings, kafka, extra_groups=[view_group])
                if left:
                    sys.stdout.write(f"streamvane demo: consumer groups still in use, not deleted: {left}\n")
    valid = view.receiver_check(receiver_log)
    status = view.summary(grace / args.speedup / 1000, valid)
    return status if updates.check(view.wanted(), view.records) else 1
