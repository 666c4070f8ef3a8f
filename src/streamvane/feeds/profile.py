"""The feed profile: the contract a WFM team signs. This holds what the topology needs — identity
and version, cadence, time zone, grace and correction horizon, dimensions — validated by pydantic
with errors that name the field. Payload and endpoint contracts extend it later.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streamvane.kpi.intervals import Granularity, IntervalGrid, zone


class Dimension(BaseModel):
    """One row of the feed's grid: a queue and a media type (lowercase, as the aggregates API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue_id: str = Field(min_length=1)
    media_type: str = Field(min_length=1)

    @field_validator("media_type")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


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
    dimensions: tuple[Dimension, ...] = Field((), description="Rows always present (zero when quiet).")

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

    def grid(self) -> IntervalGrid:
        return IntervalGrid(Granularity.parse(self.cadence), self.time_zone)
