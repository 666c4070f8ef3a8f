"""What to simulate: a pydantic model so the CLI and tests get clear errors for bad values."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class QueueSpec(BaseModel):
    """One queue: its name, media type, share of the traffic and of the agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    media_type: str = "voice"
    share: float = Field(gt=0, description="Relative share of arrivals and agents.")
    flow_out_after_ms: int | None = Field(
        None, gt=0, description="Waits longer than this flow out (e.g. a callback offer); None: never."
    )


DEFAULT_QUEUES = (
    QueueSpec(name="Sales", media_type="voice", share=0.3, flow_out_after_ms=45_000),
    QueueSpec(name="Support", media_type="voice", share=0.35),
    QueueSpec(name="Billing", media_type="voice", share=0.15, flow_out_after_ms=60_000),
    QueueSpec(name="Support Chat", media_type="chat", share=0.15),
    QueueSpec(name="Retention", media_type="message", share=0.05),
)


class SimulationSpec(BaseModel):
    """A simulated day. Times are epoch ms UTC; durations ms. The same spec gives the same events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: int = Field(500, ge=1, le=100_000)
    start_ms: int = Field(
        1_793_606_400_000, description="First arrival window start (default 2026-11-02T08:00Z)."
    )
    hours: float = Field(8.0, gt=0, le=24 * 14)
    seed: int = 7
    queues: tuple[QueueSpec, ...] = DEFAULT_QUEUES
    occupancy: float = Field(1.05, gt=0, le=1.5, description="Offered load relative to agent capacity.")
    mean_talk_ms: int = Field(240_000, gt=0)
    mean_wrapup_ms: int = Field(45_000, ge=0)
    hold_probability: float = Field(0.25, ge=0, le=1)
    transfer_probability: float = Field(0.06, ge=0, le=1)
    no_acw_probability: float = Field(
        0.03, ge=0, le=1, description="Agent sessions that never submit wrap-up."
    )
    short_patience_probability: float = Field(0.08, ge=0, le=1)
    mean_patience_ms: int = Field(150_000, gt=0)
    reorder_ms: int = Field(0, ge=0, description="Deliver events up to this much out of event-time order.")
    duplicate_rate: float = Field(0.0, ge=0, le=1, description="Fraction of events delivered twice.")
    envelope: bool = Field(True, description="EventBridge envelopes (True) or bare detail objects.")

    @property
    def end_ms(self) -> int:
        return self.start_ms + round(self.hours * 3_600_000)
