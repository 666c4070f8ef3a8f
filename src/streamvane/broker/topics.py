"""Every topic of the topology, once: name, partitions and configs — and their creation.

Topics are created up front through the admin client with explicit partitions and configs
(not implicitly by Faust), so a misconfigured existing topic is reported instead of being used.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from streamvane.broker.connection import KafkaConnection
from streamvane.errors import ConfigError
from streamvane.settings import Settings

DAY_MS = 86_400_000


class TopicMismatchError(ConfigError):
    """An existing topic has a partition count the topology cannot work with."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    must_match: bool = True


def topic_specs(settings: Settings) -> list[TopicSpec]:
    n, t = settings.kafka.partitions, settings.topics
    horizon = max((p.correction_horizon_ms for p in settings.profiles), default=DAY_MS)
    return [
        TopicSpec(t.events, n, {"retention.ms": str(settings.kafka.history_retention_ms)}, must_match=False),
        TopicSpec(settings.keyed_topic, n, {"retention.ms": str(7 * DAY_MS)}),
        TopicSpec(t.quarantine, n, {"retention.ms": str(30 * DAY_MS)}, must_match=False),
        TopicSpec(
            settings.partials_topic,
            1,
            {"cleanup.policy": "compact", "retention.ms": str(horizon + 7 * DAY_MS)},
        ),
        TopicSpec(t.feed_records, 1, {"cleanup.policy": "compact", "min.compaction.lag.ms": str(DAY_MS)}),
        TopicSpec(t.dead_letter, 1, {"retention.ms": str(90 * DAY_MS)}, must_match=False),
        TopicSpec(t.delivery_ledger, n, {"retention.ms": str(90 * DAY_MS)}, must_match=False),
        TopicSpec(t.reconciliation, 1, {"retention.ms": str(90 * DAY_MS)}, must_match=False),
        TopicSpec(t.dispatch_progress, 1, {"cleanup.policy": "compact"}, must_match=False),
        TopicSpec(t.dead_letter_state, 1, {"cleanup.policy": "compact"}, must_match=False),
        TopicSpec(t.provisional, 1, {"retention.ms": str(DAY_MS)}),
        # The tables' changelogs (Faust's naming), created here so that Faust never races its own
        # creation against its partition check; state keys expire by tombstones, hence compact only.
        TopicSpec(changelog(settings, "correlation-state"), n, {"cleanup.policy": "compact"}),
        TopicSpec(changelog(settings, "assembly-state"), 1, {"cleanup.policy": "compact"}),
    ]


def changelog(settings: Settings, table: str) -> str:
    return f"{settings.worker.app_id}-{table}-changelog"


def ingest_topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics ``streamvane ingest`` writes: the event topic and the quarantine."""
    wanted = {settings.topics.events, settings.topics.quarantine}
    return [spec for spec in topic_specs(settings) if spec.name in wanted]


def delivery_topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics the dispatcher reads and writes (it creates no worker topics)."""
    t = settings.topics
    wanted = {
        t.feed_records,
        t.dead_letter,
        t.delivery_ledger,
        t.reconciliation,
        t.dispatch_progress,
        t.dead_letter_state,
        t.provisional,
    }
    return [spec for spec in topic_specs(settings) if spec.name in wanted]


def ensure_topics(settings: Settings, kafka: KafkaConnection, specs: list[TopicSpec] | None = None) -> None:
    """Create the missing topics of ``specs`` (default: all); ``kafka``: the process's checked
    connection (:func:`streamvane.broker.preflight.open_kafka`)."""
    admin = AdminClient(kafka.config())
    existing = admin.list_topics(timeout=30).topics
    missing = []
    for spec in topic_specs(settings) if specs is None else specs:
        if spec.name in existing:
            have = len(existing[spec.name].partitions)
            if spec.must_match and have != spec.partitions:
                raise TopicMismatchError(
                    f"topic {spec.name} has {have} partitions, the topology needs {spec.partitions}"
                )
            continue
        missing.append(
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=settings.kafka.replication_factor,
                config=spec.config,
            )
        )
    if not missing:
        return
    for name, future in admin.create_topics(missing).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"cannot create topic {name}: {exc}") from None
    _wait_for_leaders(admin, [t.topic for t in missing])


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float = 30.0) -> None:
    """Until every partition of the new topics has a leader in the cluster metadata."""
    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=10).topics
        if all(
            name in topics
            and topics[name].partitions
            and all(p.leader >= 0 for p in topics[name].partitions.values())
            for name in names
        ):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics without leaders after {timeout_s}s: {names}")
        time.sleep(0.2)


def delete_topology(
    settings: Settings,
    kafka: KafkaConnection,
    extra_groups: Sequence[str] = (),
    groups_within_s: float = 45.0,
) -> list[str]:
    """Every topic of this settings' topology, Faust's leader topic and every consumer group
    (demo and test clean-up: a run leaves nothing behind). A group is deleted once its last member
    has left (a stopped worker's may take its session timeout); returns the groups still there
    after ``groups_within_s``."""
    admin = AdminClient(kafka.config())
    names = [spec.name for spec in topic_specs(settings)] + [f"{settings.worker.app_id}-__assignor-__leader"]
    existing = admin.list_topics(timeout=30).topics
    doomed = [name for name in names if name in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result(timeout=60)
    return _delete_groups(admin, [*settings.consumer_groups, *extra_groups], groups_within_s)


def _delete_groups(admin: AdminClient, groups: list[str], within_s: float) -> list[str]:
    deadline = time.monotonic() + within_s
    left = list(groups)
    while left:
        for group, future in admin.delete_consumer_groups(left, request_timeout=10).items():
            try:
                future.result()
                left.remove(group)
            except KafkaException as exc:
                if exc.args and exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
                    left.remove(group)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1.0)
    return left


def partition_count(kafka: KafkaConnection, topic: str) -> int:
    """How many partitions ``topic`` has now (it must exist)."""
    admin = AdminClient(kafka.config())
    metadata = admin.list_topics(topic, timeout=30).topics[topic]
    if metadata.error is not None:
        raise RuntimeError(f"cannot read topic {topic}: {metadata.error}")
    return len(metadata.partitions)
