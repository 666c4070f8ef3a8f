"""Bundles carry parsed events from ingest to correlate: exact round trip, bounded in bytes,
the marker last in each keyed partition."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvane.genesys.events import ConversationEvent, EventKind
from streamvane.stages.bundles import (
    Bundle,
    BundleError,
    Bundler,
    Source,
    decode,
    encode,
    keyed_partition,
)
from streamvane.stages.markers import Marker

ids = st.text(min_size=1, max_size=40)
maybe_ms = st.none() | st.integers(min_value=0, max_value=30 * 86_400_000)
events = st.builds(
    ConversationEvent,
    kind=st.sampled_from(list(EventKind)),
    event_time_ms=st.integers(min_value=946_684_800_000, max_value=4_102_444_800_000),
    conversation_id=ids,
    session_id=ids,
    participant_id=st.none() | ids,
    media_type=st.sampled_from(["voice", "chat", "email", "unknown"]),
    queue_id=st.none() | ids,
    user_id=st.none() | ids,
    acd_outcome=st.none() | st.sampled_from(["ANSWERED", "ABANDON", "SOMETHING_NEW"]),
    disconnect_type=st.none() | ids,
    interacting_ms=maybe_ms,
    held_ms=maybe_ms,
    alerting_ms=maybe_ms,
    wrapup_ms=maybe_ms,
    wrapup_code=st.none() | ids,
)
sources = st.builds(Source, st.integers(0, 63), st.integers(0, 2**53))
markers = st.none() | st.builds(
    Marker, st.integers(1, 8), st.dictionaries(st.integers(0, 7), st.integers(-(2**62), 2**62), max_size=8)
)


@given(st.lists(st.tuples(events, sources), max_size=30), markers)
def test_a_bundle_decodes_to_exactly_what_was_encoded(
    pairs: list[tuple[ConversationEvent, Source]], marker: Marker | None
) -> None:
    bundle = Bundle([e for e, _ in pairs], [s for _, s in pairs], marker)
    decoded = decode(encode(bundle))
    assert list(decoded.events) == bundle.events
    assert all(type(e.kind) is EventKind for e in decoded.events), "kinds are the enum again"
    assert list(decoded.sources) == bundle.sources
    assert decoded.marker == marker


@given(st.lists(st.tuples(events, sources), min_size=1, max_size=200), st.integers(4096, 20_000))
def test_the_bundler_cuts_at_max_bytes_keeps_order_and_puts_the_marker_last(
    pairs: list[tuple[ConversationEvent, Source]], max_bytes: int
) -> None:
    partitions = 3
    bundler = Bundler(partitions, max_bytes)
    for event, source in pairs:
        assert bundler.add(event, source) == keyed_partition(event.conversation_id, partitions)
    marker = Marker(2, {0: 5, 1: 7})
    out = bundler.finish(marker)
    assert all(len(raw) <= max_bytes for _, raw in out)
    for p in range(partitions):
        mine = [decode(raw) for q, raw in out if q == p]
        assert [b.marker for b in mine] == [None] * (len(mine) - 1) + [marker], "one marker, last"
        got = [(e, s) for b in mine for e, s in zip(b.events, b.sources, strict=True)]
        assert got == [(e, s) for e, s in pairs if keyed_partition(e.conversation_id, partitions) == p]
    assert bundler.finish(None) == [], "finish starts a new batch"


def test_without_a_marker_only_partitions_with_events_get_a_bundle() -> None:
    bundler = Bundler(4)
    event = ConversationEvent(EventKind.ACD_START, 1_800_000_000_000, "c-1", "s-1")
    bundler.add(event, Source(0, 9))
    [(partition, raw)] = bundler.finish(None)
    assert partition == keyed_partition("c-1", 4)
    assert decode(raw) == Bundle([event], [Source(0, 9)], None)


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", orjson.dumps({"v": 2, "events": []}), orjson.dumps({"v": 1, "events": [["nope"]]})],
)
def test_a_record_that_is_not_a_bundle_of_this_version_is_refused_clearly(raw: bytes) -> None:
    with pytest.raises(BundleError):
        decode(raw)
