"""The feed record value type and how it is built, keyed and identified.

A record states one profile's interval: one row per dimension (queue, media type) of the
profile's grid — zero rows included, so a quiet queue still reports — with per-metric stats.
Everything in it is a function of (profile, interval, accumulators, KPI settings, revision,
watermark), so re-emitting the same state yields the same bytes, the same compaction key and the
same idempotency key — and a key never names two different contents.

The KPI settings are applied here, once: each row carries Genesys' ``oServiceLevel`` (numerator
and denominator under the org's switches, :mod:`streamvane.kpi.service_level`), and the record
carries ``kpi_fingerprint``, the fingerprint of the settings that computed it. A renderer reads
what was computed and applies no settings of its own; a record without a fingerprint (schema v1)
predates this and is refused rather than rendered with today's switches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson

from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.service_level import ServiceLevelRule, with_service_level


@dataclass(frozen=True, slots=True)
class MetricStat:
    metric: str
    count: int
    sum: int
    min: int
    max: int


@dataclass(frozen=True, slots=True)
class DimensionRow:
    queue_id: str
    media_type: str
    metrics: tuple[MetricStat, ...]


@dataclass(frozen=True, slots=True)
class FeedRecord:
    profile_id: str
    profile_version: int
    interval_start_ms: int
    interval_end_ms: int
    time_zone: str
    granularity: str
    revision: int
    event_count: int
    watermark_ms: int
    idempotency_key: str
    rows: tuple[DimensionRow, ...]
    kpi_fingerprint: str = ""
    provisional: int = 0
    """0: a final record (the feed-record topic holds only these); k >= 1: the k-th provisional
    update of an interval still open (the provisional topic)."""

    @property
    def compaction_key(self) -> str:
        """The Kafka key: one live record per profile and interval; a restatement replaces it."""
        return compaction_key(self.profile_id, self.interval_start_ms)


def compaction_key(profile_id: str, interval_start_ms: int) -> str:
    return f"{profile_id}|{interval_start_ms}"


def parse_compaction_key(key: str) -> tuple[str, int] | None:
    """(profile id, interval start ms) of a feed topic key; None for anything else."""
    profile_id, _, start = key.rpartition("|")
    return (profile_id, int(start)) if profile_id and start.isdigit() else None


def idempotency_key(
    profile_id: str,
    profile_version: int,
    interval_start_ms: int,
    revision: int,
    rows: tuple[DimensionRow, ...],
    provisional: int = 0,
) -> str:
    """Stable across retries, restarts and replays of the same content; different for each revision
    and for any other content. A recompute under a new app id restarts at revision 1: covering the
    rows keeps a key from ever naming two different bodies, which a WFM that de-duplicates by key
    would silently drop. A provisional update's key names its update number as well, so it is
    never a final's."""
    content = orjson.dumps(
        [
            [r.queue_id, r.media_type, [[m.metric, m.count, m.sum, m.min, m.max] for m in r.metrics]]
            for r in rows
        ]
    )
    update = f"provisional-{provisional}|" if provisional else ""
    text = f"streamvane/v2|{profile_id}|{profile_version}|{interval_start_ms}|{revision}|{update}".encode()
    text += content
    return hashlib.sha256(text).hexdigest()[:32]


def build_record(
    *,
    profile_id: str,
    profile_version: int,
    interval_start_ms: int,
    interval_end_ms: int,
    time_zone: str,
    granularity: str,
    revision: int,
    watermark_ms: int,
    dimensions: Iterable[tuple[str, str]],
    cells: Mapping[tuple[str, str], IntervalAccumulator],
    service_level_rule: ServiceLevelRule,
    kpi_fingerprint: str,
    provisional: int = 0,
) -> FeedRecord:
    """A record over the full grid of ``dimensions`` (sorted), filled from ``cells``, with the
    service level frozen in by ``service_level_rule`` (part of the settings ``kpi_fingerprint``
    names)."""
    rows = []
    observations = 0
    for queue, media in sorted(set(dimensions) | set(cells)):
        acc = cells.get((queue, media))
        snapshot = acc.snapshot() if acc is not None else {}
        observations += sum(stats[0] for stats in snapshot.values())
        frozen = with_service_level(snapshot, service_level_rule)
        rows.append(
            DimensionRow(queue, media, tuple(MetricStat(name, *stats) for name, stats in frozen.items()))
        )
    return FeedRecord(
        profile_id=profile_id,
        profile_version=profile_version,
        interval_start_ms=interval_start_ms,
        interval_end_ms=interval_end_ms,
        time_zone=time_zone,
        granularity=granularity,
        revision=revision,
        event_count=observations,
        watermark_ms=watermark_ms,
        idempotency_key=idempotency_key(
            profile_id, profile_version, interval_start_ms, revision, tuple(rows), provisional
        ),
        rows=tuple(rows),
        kpi_fingerprint=kpi_fingerprint,
        provisional=provisional,
    )
