"""Provisional updates at the dispatcher: the newest update of an interval goes, its final ends
them, finals never wait for them, and stale ones are skipped. The send is a fake at the transport
seam; the clock is injected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from streamvane.feeds.delivery_result import Result
from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import FeedProfile, ProvisionalSpec
from streamvane.kpi.config import KpiConfig
from streamvane.records.feed_record import FeedRecord
from streamvane.sinks.metrics import DispatcherMetrics
from streamvane.sinks.provisional import ProvisionalDispatch
from tests.support.genesys import at

PROFILE = FeedProfile(id="wfm", version=1, provisional=ProvisionalSpec(every_ms=300_000))
FINALS_ONLY = FeedProfile(id="plain", version=1)


def update(start: str, number: int, profile: FeedProfile = PROFILE) -> FeedRecord:
    return interval_record(profile, at(start), kpi=KpiConfig(), provisional=number)


class FakeEndpoint:
    """Records what was sent; ``hold`` keeps a send in flight until released."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int, int]] = []  # (interval start, update, deadline)
        self.hold = False
        self.release = asyncio.Event()

    async def send(self, record: FeedRecord, deadline_ms: int) -> Result:
        if self.hold:
            await self.release.wait()
        self.sent.append((record.interval_start_ms, record.provisional, deadline_ms))
        return Result.DELIVERED


class Clock:
    def __init__(self) -> None:
        self.now = at("10:06")

    def __call__(self) -> int:
        return self.now


@dataclass
class Harness:
    """The dispatch under test, its fake endpoint, its clock and its metrics."""

    endpoint: FakeEndpoint = field(default_factory=FakeEndpoint)
    clock: Clock = field(default_factory=Clock)
    metrics: DispatcherMetrics = field(
        default_factory=lambda: DispatcherMetrics(registry=CollectorRegistry())
    )

    def __post_init__(self) -> None:
        self.provisional = ProvisionalDispatch(
            (PROFILE, FINALS_ONLY), self.endpoint.send, self.metrics, self.clock
        )

    def outcomes(self, outcome: str, profile: str = "wfm") -> float:
        labels = {"profile": profile, "outcome": outcome}
        return self.metrics.registry.get_sample_value("streamvane_provisional_outcomes_total", labels) or 0.0


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.provisional.close()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_update_goes_out_with_its_successors_due_time_as_deadline(h: Harness) -> None:
    h.provisional.accept(update("10:00", 1), written_ms=at("10:05:10"))
    await settle()
    assert h.endpoint.sent == [(at("10:00"), 1, at("10:10:10"))]
    assert h.outcomes("delivered") == 1


async def test_a_newer_update_supersedes_an_unsent_one_and_intervals_go_oldest_first(h: Harness) -> None:
    h.provisional.final_queued("wfm")  # a final in the lane: updates wait
    h.provisional.accept(update("10:15", 1), written_ms=at("10:05"))
    h.provisional.accept(update("10:00", 2), written_ms=at("10:05"))
    h.provisional.accept(update("10:00", 3), written_ms=at("10:05"))
    h.provisional.accept(update("10:00", 2), written_ms=at("10:05"))  # older, read again: ignored
    await settle()
    assert h.endpoint.sent == [], "a final is in the lane"
    h.provisional.final_done("wfm")
    await settle()
    assert [(s, n) for s, n, _ in h.endpoint.sent] == [(at("10:00"), 3), (at("10:15"), 1)]
    assert h.outcomes("superseded") == 1


async def test_the_final_cancels_the_update_in_flight_and_ends_that_intervals_updates(h: Harness) -> None:
    h.endpoint.hold = True
    h.provisional.accept(update("10:00", 1), written_ms=at("10:05"))
    await settle()
    h.provisional.final_queued("wfm")
    h.provisional.final_known("wfm", at("10:00"))
    await settle()
    assert h.outcomes("cancelled-for-final") == 1
    h.endpoint.release.set()
    h.provisional.accept(update("10:00", 2), written_ms=at("10:05"))  # written before the final
    h.provisional.final_done("wfm")
    await settle()
    assert h.endpoint.sent == [], "nothing of 10:00 after its final"
    assert h.outcomes("superseded") == 1


async def test_a_marker_ends_an_intervals_pending_update(h: Harness) -> None:
    h.provisional.final_queued("wfm")
    h.provisional.accept(update("10:00", 1), written_ms=at("10:05"))
    h.provisional.final_known("wfm", at("10:00"))  # the assembler's marker
    h.provisional.final_done("wfm")
    await settle()
    assert h.endpoint.sent == []
    assert h.outcomes("superseded") == 1


async def test_an_update_read_after_its_successor_was_due_is_stale(h: Harness) -> None:
    h.clock.now = at("10:20")
    h.provisional.accept(update("10:00", 1), written_ms=at("10:05"))
    await settle()
    assert h.endpoint.sent == []
    assert h.outcomes("stale") == 1


async def test_an_update_for_a_profile_that_has_none_is_counted_and_not_sent(h: Harness) -> None:
    """The dispatcher's profile has no provisional updates, a worker's newer profile file has."""
    updating = FINALS_ONLY.model_copy(update={"provisional": ProvisionalSpec(every_ms=300_000)})
    h.provisional.accept(update("10:00", 1, updating), written_ms=at("10:05"))
    await settle()
    assert h.endpoint.sent == [] and h.provisional.tasks() == {}
    assert h.outcomes("no-provisional-in-profile", profile="plain") == 1
