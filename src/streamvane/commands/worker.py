"""``streamvane worker``: run the stream topology (ingest → correlate → assemble) as a Faust worker."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from streamvane.settings import Settings, describe_settings
from streamvane.web.probes import ProbeServer

if TYPE_CHECKING:
    from streamvane.topology.app import Topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker",
        help="run the Faust stream worker",
        description="Consume Genesys events, keep interval KPI state in RocksDB tables changelogged to "
        "Kafka, and emit Avro feed records. Configured only through settings:\n" + describe_settings(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--loglevel", default=None, help="overrides STREAMVANE_LOG_LEVEL")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from streamvane.agents import assemble, correlate, ingest, progress_log
    from streamvane.broker.preflight import open_kafka
    from streamvane.broker.topics import ensure_topics, partition_count
    from streamvane.clients.kafka_oauth import KafkaTokenProvider
    from streamvane.topology.app import create_topology

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: every thread's stack
    settings = Settings()
    sys.stderr.write(f"worker: KPI settings {settings.kpi.fingerprint} (every feed record carries it)\n")
    kafka = open_kafka(settings.kafka)
    sys.stderr.write(f"worker: Kafka {kafka.describe()}\n")
    ensure_topics(settings, kafka)
    tokens = KafkaTokenProvider(kafka) if kafka.security.sasl_mechanism == "OAUTHBEARER" else None
    topology = create_topology(settings, partition_count(kafka, settings.topics.events), kafka, tokens)
    ingest.register(topology)
    correlate.register(topology)
    assemble.register(topology)
    progress_log.register(topology)
    if settings.worker.metrics_port:
        probes = ProbeServer(
            settings.worker.metrics_host,
            settings.worker.metrics_port,
            topology.metrics.registry,
            worker_ready(topology),
        )
        probes.start()
    logging.getLogger("faust.transport.producer").addFilter(demote_buffer_chatter)
    level = (args.loglevel or settings.log_level).lower()
    # Faust's CLI enables its web server unless told not to, whatever the app says: nothing of
    # ours listens on it, and a second worker on the host would fail to bind 0.0.0.0:6066.
    sys.argv = ["streamvane worker", "worker", "--loglevel", level, "--without-web"]
    topology.app.main()
    return 0


def worker_ready(topology: Topology) -> Callable[[], str | None]:
    """Ready once Kafka has assigned partitions and every table is restored from its changelog.

    The probe runs in its own thread, so it only reads Faust's plain state (``in_recovery``,
    ``rebalancing``) and a flag set by an app task: Faust starts app tasks only once its tables
    are restored (touching its lazily built consumer or recovery from another thread would build
    them on the wrong event loop).
    """
    app = topology.app
    restored = threading.Event()

    async def tables_restored() -> None:
        restored.set()

    app.task(tables_restored)

    def waiting_for() -> str | None:
        if app.in_recovery:
            return "restoring tables from their changelogs"
        if not restored.is_set():
            return "starting"
        if app.rebalancing:
            return "a rebalance (partition assignment) in progress"
        if not app.consumer.assignment():
            return "no partitions assigned (is Kafka reachable?)"
        return None

    return waiting_for


def demote_buffer_chatter(record: logging.LogRecord) -> bool:
    """Faust logs "producer buffer full" (WARNING) and "producer flush took" (INFO) for every
    batch that writes its tables: routine backpressure, not news. They become DEBUG lines."""
    message = str(record.msg)
    if message.startswith(("producer buffer full", "producer flush took")):
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
    return True
