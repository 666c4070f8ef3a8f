"""The Faust app of a Streamvane worker, configured from Settings; agents register on it.

The keyed topic holds bundles of events (header ``streamvane.bundle``; see
:mod:`streamvane.stages.bundles`), which carry ingest's watermark markers, and ticks (key
:data:`TICK_KEY`, header ``streamvane.tick``): each has a definite place among its partition's
events, so a replay meets it at the same point and makes the same closing decisions. (A separate
topic would be interleaved with the events in whatever order the consumer fetched them.)

The tables are :class:`~streamvane.tables.batch_table.BatchTable` on the ``streamvane://`` store,
named by path (the ``Table`` setting takes one), since the tables layer builds on this one.

Built by a function, not at import time, so tests and tools create apps with their own settings
(no module-level app, no import cycle with the agents).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.abc import AbstractTokenProvider

from streamvane.broker.connection import KafkaConnection, connect
from streamvane.broker.producer import OutputProducer
from streamvane.settings import Settings
from streamvane.topology.credentials import faust_credentials
from streamvane.topology.metrics import WorkerMetrics

TICK_KEY = b"\x00streamvane.tick"
TICK_HEADER = "streamvane.tick"


def tick_headers() -> list[tuple[str, bytes]]:
    return [(TICK_HEADER, b"1")]


BUNDLE_HEADER = "streamvane.bundle"


def bundle_headers() -> list[tuple[str, bytes]]:
    return [(BUNDLE_HEADER, b"1")]


def is_tick(key: bytes | None, headers: Any) -> bool:
    return key == TICK_KEY and TICK_HEADER in _names(headers)


def is_bundle(headers: Any) -> bool:
    return BUNDLE_HEADER in _names(headers)


def _names(headers: Any) -> list[str]:
    return list(headers.keys()) if isinstance(headers, dict) else [name for name, _ in headers or ()]


@dataclass(frozen=True, slots=True)
class Topology:
    """The app, the topics agents consume, the tables, and the output producer (which writes to
    the quarantine, partials and feed-record topics by name)."""

    app: faust.App
    settings: Settings
    kafka: KafkaConnection
    keyed: Any
    partials: Any
    state: Any
    assembly: Any
    output: OutputProducer
    metrics: WorkerMetrics
    input_partitions: int


def _raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> Any:
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def create_topology(
    settings: Settings,
    input_partitions: int,
    kafka: KafkaConnection | None = None,
    token_provider: AbstractTokenProvider | None = None,
) -> Topology:
    """The app over ``settings``; the event topic has ``input_partitions`` (markers name each).
    ``kafka``: the resolved connection (default: from ``settings.kafka``); ``token_provider``
    serves OAUTHBEARER."""
    worker = settings.worker
    kafka = kafka or connect(settings.kafka)
    n = settings.kafka.partitions
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        worker.app_id,
        broker=[f"kafka://{server}" for server in kafka.bootstrap.split(",")],
        broker_credentials=faust_credentials(kafka, token_provider),
        store="streamvane://",
        Table="streamvane.tables.batch_table:BatchTable",
        datadir=str(settings.state_dir),
        topic_partitions=n,
        topic_replication_factor=settings.kafka.replication_factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        web_enabled=False,
        broker_session_timeout=worker.session_timeout_s,
        consumer_max_fetch_size=worker.max_fetch_bytes,
        broker_heartbeat_interval=min(3.0, worker.session_timeout_s / 3),
        key_serializer="raw",
        value_serializer="raw",
        stream_buffer_maxsize=max(128, 2 * worker.bundles_per_batch),
        consumer_group_instance_id=worker.instance_id,
    )
    options = {"block_cache_size": worker.block_cache_bytes, "write_buffer_size": worker.write_buffer_bytes}
    table_kwargs: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "options": options,
    }
    return Topology(
        app=app,
        settings=settings,
        kafka=kafka,
        keyed=_raw_topic(app, settings.keyed_topic, partitions=n),
        partials=_raw_topic(app, settings.partials_topic, partitions=1),
        state=app.Table("correlation-state", partitions=n, help="per-partition KPI state", **table_kwargs),
        assembly=app.Table("assembly-state", partitions=1, help="partials awaiting assembly", **table_kwargs),
        output=OutputProducer(kafka),
        metrics=WorkerMetrics(),
        input_partitions=input_partitions,
    )
