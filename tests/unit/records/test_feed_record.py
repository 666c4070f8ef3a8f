"""Feed records: deterministic content and keys, Avro round trips, roll-ups that merge exactly."""

from __future__ import annotations

import io
from dataclasses import asdict, replace
from importlib import resources

import fastavro
import orjson
import pytest

from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid
from streamvane.kpi.service_level import ServiceLevelRule
from streamvane.records.avro import AvroCodec, UnknownSchemaError
from streamvane.records.feed_record import FeedRecord, build_record, idempotency_key
from streamvane.records.rollup import MisalignedBaseError, rollup
from tests.support.genesys import at


def acc(*obs: tuple[str, int]) -> IntervalAccumulator:
    a = IntervalAccumulator()
    for metric, value in obs:
        a.add(metric, value)
    return a


def record(revision: int = 1) -> FeedRecord:
    return build_record(
        profile_id="wfm-15",
        profile_version=3,
        interval_start_ms=at("10:00"),
        interval_end_ms=at("10:15"),
        time_zone="UTC",
        granularity="PT15M",
        revision=revision,
        watermark_ms=at("10:17"),
        dimensions=[("quiet", "voice"), ("busy", "voice")],
        cells={("busy", "voice"): acc(("nOffered", 1), ("tAnswered", 4_000), ("tAnswered", 6_000))},
        service_level_rule=ServiceLevelRule(),
        kpi_fingerprint=KpiConfig().fingerprint,
    )


def test_a_record_covers_the_full_grid_including_quiet_queues_sorted() -> None:
    r = record()
    assert [(row.queue_id, row.media_type) for row in r.rows] == [("busy", "voice"), ("quiet", "voice")]
    assert r.rows[1].metrics == ()
    assert [(m.metric, m.count, m.sum, m.min, m.max) for m in r.rows[0].metrics] == [
        ("nOffered", 1, 1, 1, 1),
        ("oServiceLevel", 2, 2, 0, 0),  # frozen by the rule: denominator 2, numerator 2
        ("tAnswered", 2, 10_000, 4_000, 6_000),
    ]
    assert r.event_count == 3, "observations only: the service level is derived, not observed"
    assert r.kpi_fingerprint == KpiConfig().fingerprint
    assert r.compaction_key == f"wfm-15|{at('10:00')}"


def test_same_state_same_record_and_each_revision_its_own_idempotency_key() -> None:
    assert record() == record()
    assert record(2).idempotency_key != record(1).idempotency_key
    assert record(2).compaction_key == record(1).compaction_key
    assert record(1).idempotency_key == idempotency_key("wfm-15", 3, at("10:00"), 1, record(1).rows)


def test_the_idempotency_key_never_names_two_different_contents() -> None:
    """A recompute under a new app id restarts at revision 1: same content, same key; other
    content, another key, so a WFM de-duplicating by key cannot keep a stale body."""
    same = record(1)
    other_rows = (replace(same.rows[0], metrics=same.rows[0].metrics[:1]), *same.rows[1:])
    assert idempotency_key("wfm-15", 3, at("10:00"), 1, same.rows) == same.idempotency_key
    assert idempotency_key("wfm-15", 3, at("10:00"), 1, other_rows) != same.idempotency_key


def test_avro_round_trip_is_exact_and_the_fingerprint_identifies_the_writer_schema() -> None:
    codec = AvroCodec()
    r = record()
    data = codec.encode(r)
    assert codec.decode(data, codec.fingerprint) == r
    assert codec.encode(record()) == data  # byte-identical for identical state
    assert len(codec.fingerprint) == 16 and codec.version == 2
    with pytest.raises(UnknownSchemaError, match="unknown schema fingerprint"):
        codec.decode(data, "0000000000000000")


def test_a_version_1_record_still_decodes_and_says_it_carries_no_kpi_settings() -> None:
    codec = AvroCodec()
    v1 = next(schema for schema in codec.by_fingerprint.values() if schema is not codec.schema)
    value = asdict(record())
    del value["kpi_fingerprint"]
    out = io.BytesIO()
    fastavro.schemaless_writer(out, v1, value)
    old = codec.decode(out.getvalue(), next(f for f, s in codec.by_fingerprint.items() if s is v1))
    assert old.kpi_fingerprint == ""
    assert old.rows == record().rows


def test_kpi_settings_fingerprints_differ_by_any_setting_and_are_stable() -> None:
    assert KpiConfig().fingerprint == KpiConfig().fingerprint
    assert KpiConfig(sl_include_flow_outs=True).fingerprint != KpiConfig().fingerprint
    assert KpiConfig(short_abandon_ms=5_000).fingerprint != KpiConfig().fingerprint


def test_rollup_merges_base_quarter_hours_into_the_profile_interval() -> None:
    base = IntervalGrid(Granularity.PT15M)
    cells = {
        ("q", "voice", at("10:00")): acc(("tAnswered", 5)),
        ("q", "voice", at("10:15")): acc(("tAnswered", 7)),
        ("q", "voice", at("10:30")): acc(("tAnswered", 100)),
    }
    half_hour = rollup(cells, base, at("10:00"), at("10:30"))
    assert half_hour[("q", "voice")].snapshot() == {"tAnswered": (2, 12, 5, 7)}
    kathmandu = IntervalGrid(Granularity.PT30M, "Asia/Kathmandu")
    start, end = kathmandu.bounds(at("10:20"))
    assert (start, end) == (at("10:15"), at("10:45"))
    assert rollup(cells, base, start, end)[("q", "voice")].snapshot() == {"tAnswered": (2, 107, 7, 100)}
    with pytest.raises(MisalignedBaseError):
        rollup(cells, base, at("10:05"), at("10:35"))


def test_a_provisional_update_has_its_own_key_and_travels_in_its_own_schema() -> None:
    final = record()
    update = replace(
        final,
        provisional=2,
        idempotency_key=idempotency_key("wfm-15", 3, at("10:00"), 1, final.rows, provisional=2),
    )
    assert update.idempotency_key not in {final.idempotency_key, record(revision=2).idempotency_key}
    assert update.idempotency_key != idempotency_key("wfm-15", 3, at("10:00"), 1, final.rows, provisional=3)
    provisional_codec, feed_codec = AvroCodec("provisional_record"), AvroCodec()
    assert provisional_codec.fingerprint != feed_codec.fingerprint
    assert provisional_codec.decode(provisional_codec.encode(update), provisional_codec.fingerprint) == update
    assert feed_codec.decode(feed_codec.encode(final), feed_codec.fingerprint) == final
    with pytest.raises(UnknownSchemaError):
        feed_codec.decode(provisional_codec.encode(update), provisional_codec.fingerprint)


def test_a_final_record_encodes_as_before_provisional_updates_existed() -> None:
    """The feed-record schema did not change: a final's Avro bytes are the v2 schema's of its
    fields, nothing more."""
    final = record()
    schema_file = resources.files("streamvane.schemas").joinpath("feed_record.v2.avsc")
    schema = fastavro.parse_schema(orjson.loads(schema_file.read_bytes()))
    out = io.BytesIO()
    fields = {k: v for k, v in asdict(final).items() if k != "provisional"}
    fastavro.schemaless_writer(out, schema, fields)
    assert AvroCodec().encode(final) == out.getvalue()
