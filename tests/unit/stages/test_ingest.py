"""Ingest, pure: a batch of raw records in; bundles of parsed events per keyed partition (the
watermark marker last) and quarantine with reasons out."""

from __future__ import annotations

import hashlib

import orjson

from streamvane.genesys.events import ConversationEvent, EventKind
from streamvane.genesys.parse import EventParser
from streamvane.stages.bundles import Source, decode, keyed_partition
from streamvane.stages.ingest import IngestStage, SourceRecord
from streamvane.stages.markers import InputProgress
from tests.support.expectations import late_offer

T0 = 1_800_000_000_000
TOLERANCE = 30_000


def stage(keyed: int = 3, inputs: int = 2) -> IngestStage:
    return IngestStage(EventParser(), keyed, InputProgress(inputs, TOLERANCE), "genesys.events")


def test_valid_events_go_parsed_to_their_conversation_partition_with_the_marker_last() -> None:
    ingest = stage()
    records = [
        SourceRecord(late_offer(T0 + i * 1000, "q-1", f"conv-{i}"), None, i % 2, 100 + i, T0 + 60_000)
        for i in range(6)
    ]
    result = ingest.process(records, now_ms=T0 + 120_000)
    assert (result.forwarded, result.quarantined, dict(result.read)) == (6, [], {0: 3, 1: 3})
    assert sorted(p for p, _ in result.bundles) == [0, 1, 2], "every keyed partition hears the marker"
    seen = []
    for partition, raw in result.bundles:
        bundle = decode(raw)
        assert bundle.marker is not None
        assert bundle.marker.watermarks == {0: T0 + 4000 - TOLERANCE, 1: T0 + 5000 - TOLERANCE}
        for event, source in zip(bundle.events, bundle.sources, strict=True):
            assert keyed_partition(event.conversation_id, 3) == partition
            seen.append((event.conversation_id, source))
    assert sorted(seen) == [(f"conv-{i}", Source(i % 2, 100 + i)) for i in range(6)]
    event = decode(next(raw for p, raw in result.bundles if p == keyed_partition("conv-0", 3))).events[0]
    assert event == ConversationEvent(EventKind.ACD_START, T0, "conv-0", "s-conv-0", None, "voice", "q-1")


def test_bad_records_are_quarantined_with_reason_and_source_and_the_rest_go_on() -> None:
    ingest = stage()
    huge = b'{"pad":"' + b"x" * 600_000 + b'"}'
    future = late_offer(T0 + 3_600_000, "q-1", "from-the-future")  # an hour after it was received
    records = [
        SourceRecord(b"{not json", b"k1", 0, 1, T0),
        SourceRecord(None, None, 0, 2, T0),
        SourceRecord(huge, b"k" * 5000, 1, 3, T0),
        SourceRecord(future, None, 1, 4, T0),
        SourceRecord(late_offer(T0, "q-1", "fine"), None, 1, 5, T0),
    ]
    result = ingest.process(records, now_ms=T0)
    reasons = [(q.reason, dict(q.headers)["source"]) for q in result.quarantined]
    assert reasons == [
        ("not-json", b"genesys.events/0/1"),
        ("empty", b"genesys.events/0/2"),
        ("too-large", b"genesys.events/1/3"),
        ("clock-skew", b"genesys.events/1/4"),
    ]
    not_json, _, too_large, _ = result.quarantined
    assert (not_json.key, not_json.value) == (b"k1", b"{not json")
    reference = orjson.loads(too_large.value)
    assert reference["sha256"] == hashlib.sha256(huge).hexdigest() and too_large.key is None
    assert result.forwarded == 1


def test_events_of_unused_topics_are_counted_not_forwarded() -> None:
    attributes = orjson.dumps(
        {
            "topicName": "v2.detail.events.conversation.c-1.attributes",
            "eventBody": {"eventTime": T0, "conversationId": "c-1", "attributes": {}},
        }
    )
    result = stage().process([SourceRecord(attributes, None, 0, 0, T0)], now_ms=T0)
    assert (result.ignored, result.forwarded, result.quarantined) == (1, 0, [])


def test_a_record_without_a_timestamp_is_bounded_by_the_wall_clock() -> None:
    ingest = stage()
    record = SourceRecord(late_offer(T0 + 3_600_000, "q", "c"), None, 0, 0, None)
    assert [q.reason for q in ingest.process([record], now_ms=T0).quarantined] == ["clock-skew"]
    assert ingest.process([record], now_ms=T0 + 3_600_000).forwarded == 1
