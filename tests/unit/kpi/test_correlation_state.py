"""Correlation state survives a round trip through plain data, per conversation.

The topology keeps one correlator state per conversation in a changelogged table and rebuilds it
for every batch; that must give exactly the numbers of one long-lived correlator.
"""

from __future__ import annotations

import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvane.genesys.events import ConversationEvent
from streamvane.genesys.parse import EventParser
from streamvane.kpi.aggregate import IntervalAggregator
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.correlation import Correlator
from streamvane.kpi.intervals import Granularity, IntervalGrid
from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    reorder_ms=st.sampled_from([0, 90_000]),
    duplicates=st.sampled_from([0.0, 0.1]),
)
def test_per_conversation_state_round_trips_give_the_numbers_of_one_correlator(
    seed: int, reorder_ms: int, duplicates: float
) -> None:
    spec = SimulationSpec(agents=20, hours=1, seed=seed, reorder_ms=reorder_ms, duplicate_rate=duplicates)
    parser = EventParser()
    parsed = [parser.parse(line, 2**62) for _, line in delivery(spec, simulate(spec))]
    events = [e for e in parsed if isinstance(e, ConversationEvent)]
    assert len(events) == len(parsed)
    config = KpiConfig()
    grid = IntervalGrid(Granularity.PT15M)

    whole = IntervalAggregator(grid)
    one = Correlator(config, whole)
    for event in events:
        one.accept(event)
    one.flush()

    split = IntervalAggregator(grid)
    stored: dict[str, bytes] = {}
    rng = random.Random(seed)
    for event in events:
        raw = stored.get(event.conversation_id)
        state = orjson.loads(raw) if raw is not None else None
        c = Correlator.from_state(config, split, state) if state else Correlator(config, split)
        c.accept(event)
        if rng.random() < 0.3:
            c.expire(event.event_time_ms - config.reorder_tolerance_ms - rng.randint(0, 600_000))
        stored[event.conversation_id] = orjson.dumps(c.state())
    for raw in stored.values():
        c = Correlator.from_state(config, split, orjson.loads(raw))
        c.flush()
    assert split.snapshot() == whole.snapshot()


def test_a_finished_conversation_becomes_forgettable_after_the_dedupe_horizon() -> None:
    spec = SimulationSpec(agents=3, hours=0.5, seed=5)
    parser = EventParser()
    config = KpiConfig()
    c = Correlator(config, IntervalAggregator(IntervalGrid(Granularity.PT15M)))
    conversation = simulate(spec)[0]
    lines = [line for _, line in delivery(spec, [conversation])]
    for line in lines:
        event = parser.parse(line, 2**62)
        assert isinstance(event, ConversationEvent)
        c.accept(event)
    c.expire(c.newest_ms + config.acw_grace_ms + 1)
    assert not c.forgettable()
    due = c.next_deadline_ms()  # its sessions are kept to recognise duplicates
    assert due is not None and c.newest_ms < due <= c.newest_ms + config.dedupe_horizon_ms
    c.expire(c.newest_ms + config.dedupe_horizon_ms + 1)
    assert c.forgettable()
    assert c.next_deadline_ms() is None
