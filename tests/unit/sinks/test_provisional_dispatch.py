"""Provisional updates at the dispatcher: the newest update of an interval goes, its final ends
them, finals never wait for them, and stale ones are skipped. The send is a fake at the transport
seam; the clock is injected."""

from __future__ import annotations

import asyncio

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


def dispatch(endpoint: FakeEndpoint, clock: Clock) -> tuple[ProvisionalDispatch, DispatcherMetrics]:
    metrics = DispatcherMetrics(registry=CollectorRegistry())
    return ProvisionalDispatch((PROFILE, FINALS_ONLY), endpoint.send, metrics, clock), metrics


def outcomes(metrics: DispatcherMetrics, outcome: str, profile: str = "wfm") -> float:
    labels = {"profile": profile, "outcome": outcome}
    return metrics.registry.get_sample_value("streamvane_provisional_outcomes_total", labels) or 0.0


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_update_goes_out_with_its_successors_due_time_as_deadline() -> None:
    endpoint, clock = FakeEndpoint(), Clock()
    provisional, metrics = dispatch(endpoint, clock)
    provisional.accept(update("10:00", 1), written_ms=at("10:05:10"))
    await settle()
    assert endpoint.sent == [(at("10:00"), 1, at("10:10:10"))]
    assert outcomes(metrics, "delivered") == 1
    await provisional.close()


async def test_a_newer_update_supersedes_an_unsent_one_and_intervals_go_oldest_first() -> None:
    endpoint, clock = FakeEndpoint(), Clock()
    provisional, metrics = dispatch(endpoint, clock)
    provisional.final_queued("wfm")  # a final in the lane: updates wait
    provisional.accept(update("10:15", 1), written_ms=at("10:05"))
    provisional.accept(update("10:00", 2), written_ms=at("10:05"))
    provisional.accept(update("10:00", 3), written_ms=at("10:05"))
    provisional.accept(update("10:00", 2), written_ms=at("10:05"))  # older, read again: ignored
    await settle()
    assert endpoint.sent == [], "a final is in the lane"
    provisional.final_done("wfm")
    await settle()
    assert [(s, n) for s, n, _ in endpoint.sent] == [(at("10:00"), 3), (at("10:15"), 1)]
    assert outcomes(metrics, "superseded") == 1
    await provisional.close()


async def test_the_final_cancels_the_update_in_flight_and_ends_that_intervals_updates() -> None:
    endpoint, clock = FakeEndpoint(), Clock()
    provisional, metrics = dispatch(endpoint, clock)
    endpoint.hold = True
    provisional.accept(update("10:00", 1), written_ms=at("10:05"))
    await settle()
    provisional.final_queued("wfm")
    provisional.final_known("wfm", at("10:00"))
    await settle()
    assert outcomes(metrics, "cancelled-for-final") == 1
    endpoint.release.set()
    provisional.accept(update("10:00", 2), written_ms=at("10:05"))  # written before the final
    provisional.final_done("wfm")
    await settle()
    assert endpoint.sent == [], "nothing of 10:00 after its final"
    assert outcomes(metrics, "superseded") == 1
    await provisional.close()


async def test_a_marker_ends_an_intervals_pending_update() -> None:
    endpoint, clock = FakeEndpoint(), Clock()
    provisional, metrics = dispatch(endpoint, clock)
    provisional.final_queued("wfm")
    provisional.accept(update("10:00", 1), written_ms=at("10:05"))
    provisional.final_known("wfm", at("10:00"))  # the assembler's marker
    provisional.final_done("wfm")
    await settle()
    assert endpoint.sent == []
    assert outcomes(metrics, "superseded") == 1
    await provisional.close()


async def test_an_update_read_after_its_successor_was_due_is_stale() -> None:
    endpoint, clock = FakeEndpoint(), Clock()
    provisional, metrics = dispatch(endpoint, clock)
    clock.now = at("10:20")
    provisional.accept(update("10:00", 1), written_ms=at("10:05"))
    await settle()
    assert endpoint.sent == []
    assert outcomes(metrics, "stale") == 1
    await provisional.close()


async def test_a_profile_without_updates_sends_none_and_its_finals_are_not_held() -> None:
    endpoint, clock = FakeEndpoint(), Clock()
    provisional, metrics = dispatch(endpoint, clock)
    provisional.final_queued("plain")
    provisional.final_done("plain")
    updating = FINALS_ONLY.model_copy(update={"provisional": ProvisionalSpec(every_ms=300_000)})
    provisional.accept(update("10:00", 1, updating), written_ms=at("10:05"))  # another profile file
    await settle()
    assert endpoint.sent == [] and provisional.tasks() == {}
    assert outcomes(metrics, "no-provisional-in-profile", profile="plain") == 1
    await provisional.close()
