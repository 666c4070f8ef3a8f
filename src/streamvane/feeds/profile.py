"""The feed profile: the contract a WFM team signs, one YAML file per feed.

The topology reads identity and version, cadence, time zone, grace, correction horizon and
dimensions; the dispatcher reads the rest: the KPI mapping matrix (:mod:`.mapping`), the payload
(:mod:`.payload`), the endpoint with its auth by secret reference (:mod:`.endpoint`), the retry
policy (:mod:`.retry_policy`) and acceptance (:mod:`.acceptance`). All durations are in ms; the
delivery deadline counts from interval close, i.e. from the end of the interval in event time
as seen by the worker when it emits the record (interval end + grace in live operation).
"""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streamvane.feeds.acceptance import AcceptanceSpec
from streamvane.feeds.endpoint import EndpointSpec
from streamvane.feeds.mapping import FieldSpec
from streamvane.feeds.payload import DEFAULT_FIELDS, PayloadSpec
from streamvane.feeds.retry_policy import RetryPolicy
from streamvane.kpi.intervals import Granularity, IntervalGrid, zone


class Dimension(BaseModel):
    """One row of the feed's grid: a queue and a media type (lowercase, as the aggregates API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue_id: str = Field(min_length=1)
    media_type: str = Field(min_length=1)
    name: str | None = Field(None, description="The queue's name at the WFM (rendered as queue name).")
    external_key: str | None = Field(None, description="The WFM's key for this queue, if it has one.")

    @field_validator("media_type")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class PayloadVersion(BaseModel):
    """Another payload version of the same feed, delivered beside the profile's own on every
    interval: its own payload (schema version, format), optionally its own fields and its own
    endpoint (default: the profile's, told apart by the X-Streamvane-Payload-Version header)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,15}$", description="Short name, e.g. v2.")
    payload: PayloadSpec
    fields: tuple[FieldSpec, ...] | None = Field(None, min_length=1, description="Default: the profile's.")
    endpoint: EndpointSpec | None = Field(None, description="Default: the profile's endpoint.")
    deprecated_after: date | None = Field(None, description="profiles validate warns after this day.")


class ProvisionalSpec(BaseModel):
    """Updates while an interval is open, for a downstream that wants the interval as it fills.

    An update is pushed each ``every_ms`` of event time from the interval's start (in live
    operation event time is wall time; a sped-up simulation runs them faster) until the final
    record is emitted, each marked provisional in a header and in the body, under its own
    idempotency key. The final is what the same profile without provisional updates delivers,
    byte for byte; updates never hold it back. Only json and xml payloads can mark an update."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every_ms: int = Field(ge=60_000, description="An update this often (ms of event time) while open.")


class FeedProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="Stable id; part of every key.")
    version: int = Field(ge=1, description="Contract version; part of the idempotency key.")
    cadence: str = Field("PT15M", description="PT15M, PT30M or PT60M.")
    time_zone: str = Field("UTC", description="IANA zone the intervals align to.")
    grace_ms: int = Field(16 * 60_000, ge=0, description="Event time after interval end before it is final.")
    correction_horizon_ms: int = Field(
        2 * 3_600_000, ge=0, description="Event time after interval end during which late data restates."
    )
    dimensions: tuple[Dimension, ...] = Field(
        (), description="Rows of the payload, always present (zero when quiet); empty: every queue seen."
    )
    description: str = ""
    silent_after_ms: int | None = Field(
        None,
        gt=0,
        description="Routing drift: a listed queue without offered traffic for longer than this is "
        "reported silent (none: never).",
    )
    delivery_deadline_ms: int = Field(
        10 * 60_000, gt=0, description="Deliver within this long after the interval is closed."
    )
    fields: tuple[FieldSpec, ...] = Field(DEFAULT_FIELDS, min_length=1, description="The KPI mapping.")
    payload: PayloadSpec = Field(default_factory=PayloadSpec)
    deprecated_after: date | None = Field(
        None, description="This payload version is deprecated after this day (profiles validate warns)."
    )
    versions: tuple[PayloadVersion, ...] = Field(
        (),
        description="Further payload versions delivered side by side; each becomes the feed "
        "<id>.<name>, with the same grid, dimensions and KPI settings.",
    )
    provisional: ProvisionalSpec | None = Field(
        None, description="Push provisional updates while an interval is open (none: finals only)."
    )
    endpoint: EndpointSpec | None = Field(None, description="Where to deliver; none: records only.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    acceptance: AcceptanceSpec = Field(default_factory=AcceptanceSpec)

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, value: str) -> str:
        return Granularity.parse(value).name

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _horizon(self) -> Self:
        if self.correction_horizon_ms < self.grace_ms:
            raise ValueError("correction_horizon_ms must be >= grace_ms")
        return self

    @model_validator(mode="after")
    def _names(self) -> Self:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"fields: duplicate names {dupes}")
        keys = self.payload.dimension_fields.model_dump().values()
        clash = sorted(set(names) & {k for k in keys if k})
        if clash:
            raise ValueError(f"fields: {clash} collide with the row's dimension field names")
        for setting in ("tolerance_pct", "absolute_floor"):
            unknown = sorted(set(getattr(self.acceptance, setting)) - set(names))
            if unknown:
                raise ValueError(f"acceptance.{setting}: {unknown} are not fields of this profile")
        dims = [(d.queue_id, d.media_type) for d in self.dimensions]
        if len(set(dims)) != len(dims):
            raise ValueError("dimensions: a (queue_id, media_type) pair is listed twice")
        if self.payload.text is not None:
            problems = self.payload.text.check_columns(set(names), self.payload.format == "fixed-width")
            if problems:
                raise ValueError("payload.text: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _provisional(self) -> Self:
        if self.provisional is None:
            return self
        if self.payload.is_text:
            raise ValueError(
                f"provisional: a {self.payload.format} payload has no place to mark an update as "
                "provisional, so a downstream could take it for the final; use json or xml"
            )
        cadence_ms = Granularity.parse(self.cadence).ms
        if self.provisional.every_ms >= cadence_ms + self.grace_ms:
            raise ValueError(
                f"provisional.every_ms ({self.provisional.every_ms}) must be shorter than the cadence "
                f"plus the grace ({cadence_ms + self.grace_ms} ms), or no update comes before the final"
            )
        return self

    @property
    def provisional_every_ms(self) -> int | None:
        return None if self.provisional is None else self.provisional.every_ms

    def side_by_side(self) -> tuple[FeedProfile, ...]:
        """This profile and one feed per further payload version (id ``<id>.<name>``): computed
        from the same events, keyed and ledgered apart, so a new version never changes what a
        consumer of an older one receives."""
        out = [self.model_copy(update={"versions": ()})]
        for v in self.versions:
            update = {
                "id": f"{self.id}.{v.name}",
                "payload": v.payload,
                "fields": v.fields or self.fields,
                "endpoint": v.endpoint or self.endpoint,
                "deprecated_after": v.deprecated_after,
                "versions": (),
            }
            # validated again: the version's fields and payload must fit the shared contract
            out.append(FeedProfile.model_validate(self.model_copy(update=update).model_dump()))
        return tuple(out)

    def grid(self) -> IntervalGrid:
        return IntervalGrid(Granularity.parse(self.cadence), self.time_zone)
