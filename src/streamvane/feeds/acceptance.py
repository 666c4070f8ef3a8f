"""What a feed is held to: KPI tolerance against Genesys' own numbers, and on-time delivery."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AcceptanceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tolerance_pct: dict[str, float] = Field(
        default_factory=dict, description="Per payload field: allowed relative deviation in percent."
    )
    default_tolerance_pct: float = Field(2.0, ge=0)
    absolute_floor: dict[str, float] = Field(
        default_factory=dict,
        description="Per payload field: a deviation this small always passes, in the field's own unit "
        "(default 1 unit: 1 call, 1 second of a duration, 1 percentage point).",
    )
    on_time_target: float = Field(0.95, gt=0, le=1, description="Share of intervals delivered on time.")
    on_time_within_ms: int = Field(
        10 * 60_000, gt=0, description="On time = acknowledged this soon after close."
    )
