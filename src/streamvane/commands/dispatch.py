"""``streamvane dispatch`` and ``streamvane receiver``: deliver feed records over HTTP, and a local
WFM endpoint to deliver them to."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.preflight import open_kafka
from streamvane.settings import Settings, describe_settings

if TYPE_CHECKING:
    from streamvane.clients.reconciler import ContinuousReconciler
    from streamvane.sinks.dispatcher import DispatcherConfig
    from streamvane.sinks.metrics import DispatcherMetrics


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dispatch",
        help="deliver feed records to their endpoints (HTTP), with retries, dead letters and a ledger",
        description="Consume the feed-record topic and deliver each record to its profile's endpoint. "
        "Configured through settings:\n" + describe_settings(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(handler=run_dispatch)
    r = sub.add_parser("receiver", help="run a local WFM receiver that validates and logs payloads")
    r.add_argument("--host", default="127.0.0.1", help="address to bind (a container: 0.0.0.0)")
    r.add_argument("--port", type=int, default=8787)
    r.add_argument("--profiles-dir", type=Path, default=Path("profiles"))
    r.add_argument("--log", type=Path, help="append every request as a JSON line here")
    r.set_defaults(handler=run_receiver)


def dispatcher_config(settings: Settings, kafka: KafkaConnection) -> DispatcherConfig:
    from streamvane.sinks.dispatcher import DispatcherConfig
    from streamvane.sinks.sender import Topics

    t, d = settings.topics, settings.dispatcher
    return DispatcherConfig(
        kafka=kafka,
        feed_topic=t.feed_records,
        topics=Topics(t.delivery_ledger, t.dead_letter),
        group_id=d.group_id,
        commit_interval_s=d.commit_interval_s,
        max_pending=d.max_pending,
        session_timeout_s=d.session_timeout_s,
        on_time_window_ms=round(d.on_time_window_s * 1000),
        progress_topic=t.dispatch_progress,
        origin_limits=dict(d.origin_limits),
        provisional_topic=t.provisional,
    )


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def run_dispatch(args: argparse.Namespace) -> int:
    from streamvane.broker.topics import delivery_topic_specs, ensure_topics
    from streamvane.sinks.dispatcher import Dispatcher
    from streamvane.sinks.metrics import DispatcherMetrics

    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kafka = open_kafka(settings.kafka)
    ensure_topics(settings, kafka, delivery_topic_specs(settings))
    config = dispatcher_config(settings, kafka)
    metrics = DispatcherMetrics()
    try:
        reconciler = _reconciler(settings, kafka, metrics)
    except ValueError as exc:
        sys.stderr.write(f"dispatch: continuous reconciliation: {exc}\n")
        return 2
    dispatcher = Dispatcher(config, settings.profiles, metrics)
    if settings.dispatcher.metrics_port:
        from streamvane.web.probes import ProbeServer

        d = settings.dispatcher
        ProbeServer(d.metrics_host, d.metrics_port, metrics.registry, dispatcher.waiting_for).start()

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        logging.getLogger("streamvane.dispatcher").info(
            "dispatching %s for %d profiles", config.feed_topic, len(settings.profiles)
        )
        if reconciler is None:
            await dispatcher.run(stop)
            return
        tasks = [asyncio.create_task(dispatcher.run(stop)), asyncio.create_task(reconciler.run(stop))]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    return 0


def _reconciler(
    settings: Settings, kafka: KafkaConnection, metrics: DispatcherMetrics
) -> ContinuousReconciler | None:
    """Continuous reconciliation beside the dispatcher, when ``genesys.reconcile_continuously``."""
    from streamvane.clients.genesys_analytics import endpoints
    from streamvane.clients.reconciler import ContinuousReconciler, ReconcilerConfig

    g = settings.genesys
    if not g.reconcile_continuously:
        return None
    endpoints(g)
    config = ReconcilerConfig(
        kafka=kafka,
        feed_topic=settings.topics.feed_records,
        report_topic=settings.topics.reconciliation,
        group_id=settings.reconcile_group,
        settle_ms=round(g.reconcile_after_s * 1000),
    )
    return ContinuousReconciler(config, g, settings.profiles, metrics)


def run_receiver(args: argparse.Namespace) -> int:
    from aiohttp import web

    from streamvane.commands.demo_receiver import receiver_app
    from streamvane.feeds.loader import load_profiles_dir

    app = receiver_app(load_profiles_dir(args.profiles_dir), args.log)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0
