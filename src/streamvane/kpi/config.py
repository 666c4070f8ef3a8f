"""KPI configuration: service-level targets, the short-abandon threshold, Genesys' three
service-level switches and the correlation horizons. Validated by pydantic at the boundary.

Durations are milliseconds. Horizons are measured in **event time**, never the wall clock.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Self

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streamvane.genesys.parse import EventParser
from streamvane.kpi.service_level import ServiceLevelRule


class ServiceLevelTarget(BaseModel):
    """A queue's service level for one media type: ``percentage`` answered within ``duration_ms``.

    A wait equal to ``duration_ms`` meets the target; only a longer one counts in nOverSla.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_ms: int = Field(20_000, gt=0, description="SL threshold: answered within this wait meets it.")
    percentage: float = Field(0.8, gt=0, le=1, description="SL target as a fraction (0.8 = 80 %).")


class QueueServiceLevel(ServiceLevelTarget):
    """A per-queue override; ``media_type`` None applies to every media type of the queue."""

    queue_id: str = Field(min_length=1)
    media_type: str | None = None


class KpiConfig(BaseModel):
    """Everything that changes how events become Genesys metrics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_service_level: ServiceLevelTarget = Field(default_factory=ServiceLevelTarget)
    service_levels: tuple[QueueServiceLevel, ...] = ()
    short_abandon_ms: int = Field(10_000, ge=0, description="Abandons with a wait below this are short.")
    sl_include_flow_outs: bool = Field(False, description="Genesys switch: flow-outs count as misses.")
    sl_include_short_abandons: bool = Field(
        True, description="Genesys switch: short abandons in denominator."
    )
    sl_include_abandons: bool = Field(True, description="Genesys switch: abandons in the denominator.")
    acw_grace_ms: int = Field(
        15 * 60_000,
        ge=0,
        description="How long after user.end a session waits for its acw before its handle (talk + held) "
        "lands provisionally at user.end; an acw arriving later still moves it to the acw.",
    )
    reorder_tolerance_ms: int = Field(
        2 * 60_000,
        ge=0,
        description="How far the watermark trails the newest event time. It only times closing and the "
        "provisional handle: pairing never depends on it.",
    )
    dedupe_horizon_ms: int = Field(
        26 * 3_600_000,
        gt=0,
        description="How long (event time) an event identity is remembered for de-duplication: "
        "EventBridge retries for 24 h, plus a margin.",
    )
    pairing_horizon_ms: int = Field(
        26 * 3_600_000,
        gt=0,
        description="How long (watermark past its own event time) an unpaired half waits for its "
        "partner before it is counted as unmatched.",
    )
    max_queue_wait_ms: int = Field(
        24 * 3_600_000,
        gt=0,
        description="Longest plausible wait in queue for media types not listed in "
        "max_queue_wait_by_media_ms.",
    )
    max_queue_wait_by_media_ms: dict[str, int] = Field(
        default_factory=lambda: {"email": 8 * 86_400_000, "message": 8 * 86_400_000},
        description="Per media type (lowercase): email and messages may wait days in queue.",
    )
    max_open_entries: int = Field(
        20_000_000, gt=0, description="Bound on open sessions; beyond it the oldest entry is evicted."
    )
    max_clock_skew_ms: int = Field(
        5 * 60_000,
        ge=0,
        description="An eventTime this far after the time its record was received is a wrong clock: "
        "quarantined as clock-skew.",
    )
    max_duration_ms: int = Field(
        30 * 86_400_000,
        gt=0,
        description="Longest plausible duration field; longer ones are invalid-value.",
    )

    def event_parser(self) -> EventParser:
        """The parser with the input limits this config sets (clock skew, longest duration): the
        one ingest, the correlate stage and offline compute all use."""
        return EventParser(max_clock_skew_ms=self.max_clock_skew_ms, max_duration_ms=self.max_duration_ms)

    @property
    def service_level_rule(self) -> ServiceLevelRule:
        return ServiceLevelRule(
            self.sl_include_abandons, self.sl_include_short_abandons, self.sl_include_flow_outs
        )

    @cached_property
    def fingerprint(self) -> str:
        """16 hex digits naming these settings: the SHA-256 of their canonical JSON (every field,
        defaults included, keys sorted). Each feed record carries the fingerprint of the settings
        that computed it, so a replay can say which computation it delivers. Computed once per
        (frozen) config, not once per record."""
        canonical = orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()[:16]

    def queue_wait_limit_ms(self, media_type: str) -> int:
        return self.max_queue_wait_by_media_ms.get(media_type, self.max_queue_wait_ms)

    @model_validator(mode="after")
    def _unique_overrides(self) -> Self:
        for media, limit in self.max_queue_wait_by_media_ms.items():
            if media != media.lower() or limit <= 0:
                raise ValueError(f"max_queue_wait_by_media_ms: {media!r} must be lowercase with a limit > 0")
        seen: set[tuple[str, str | None]] = set()
        for sl in self.service_levels:
            key = (sl.queue_id, sl.media_type.lower() if sl.media_type else None)
            if key in seen:
                raise ValueError(f"service_levels: duplicate entry for queue {key[0]!r} media {key[1]!r}")
            seen.add(key)
        return self

    def service_level_for(self, queue_id: str, media_type: str) -> ServiceLevelTarget:
        """Most specific target: (queue, media), then (queue, any media), then the default."""
        exact = wildcard = None
        for sl in self.service_levels:
            if sl.queue_id != queue_id:
                continue
            if sl.media_type is None:
                wildcard = sl
            elif sl.media_type.lower() == media_type:
                exact = sl
        return exact or wildcard or self.default_service_level


def load_kpi_config(path: Path) -> KpiConfig:
    """Read a YAML or JSON file; errors name the file and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read KPI config: {exc}") from None
    try:
        return KpiConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ValueError(f"{path}: invalid KPI config: {problems}") from None
