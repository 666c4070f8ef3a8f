"""A feed record in, the exact payload bytes out; every payload passes its own contract."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.loader import load_profile
from streamvane.feeds.payload_schema import PayloadInvalidError, PayloadValidator
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import UnrenderableRecord, render
from streamvane.feeds.request import build_request
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import parse_instant
from streamvane.records.feed_record import FeedRecord, idempotency_key

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles"
SALES = "50feb9c2-a2e7-598e-ab50-932bffc1db65"


def record(profile: FeedProfile, start: str, revision: int = 1) -> FeedRecord:
    acc = IntervalAccumulator()
    for _ in range(3):
        acc.add("nOffered", 1)
    for wait in (5_000, 12_000, 31_000):
        acc.add("tAnswered", wait)
    acc.add("nOverSla", 1)
    acc.add("tHandle", 300_400)
    acc.add("tHandle", 241_500)
    cells = {(SALES, "voice"): acc, ("not-in-contract", "voice"): acc}
    return interval_record(profile, parse_instant(start), cells, revision, kpi=KpiConfig())


def test_genesys_wfm_json_payload_exactly() -> None:
    profile = load_profile(EXAMPLES / "genesys-wfm-historical.yaml")
    payload = render(profile, record(profile, "2026-11-02T08:00:00Z"))
    doc = orjson.loads(payload.body)
    assert doc["schemaVersion"] == "genesys-wfm-historical/1"
    assert doc["interval"] == {
        "start": "2026-11-02T08:00:00+00:00",
        "end": "2026-11-02T08:15:00+00:00",
        "startUtc": "2026-11-02T08:00:00Z",
        "endUtc": "2026-11-02T08:15:00Z",
        "timeZone": "UTC",
        "length": "PT15M",
    }
    assert [r["queue"] for r in doc["rows"]] == ["Sales", "Support", "Billing", "Support Chat", "Retention"]
    assert doc["rows"][0] == {
        "queueId": SALES,
        "queue": "Sales",
        "mediaType": "voice",
        "offered": 3,
        "interactionsHandled": 2,
        "totalHandleTimeSeconds": 542,
    }
    assert doc["rows"][1]["offered"] == 0
    PayloadValidator(profile).check(payload.body)


def test_local_zone_rendering_across_dst() -> None:
    profile = load_profile(EXAMPLES / "calabrio-queue-stats.yaml")
    # 2026-10-25 01:00Z is 02:00 CET, just after Berlin's clocks went back from 03:00 CEST.
    before = orjson.loads(render(profile, record(profile, "2026-10-25T00:45:00Z")).body)
    after = orjson.loads(render(profile, record(profile, "2026-10-25T01:00:00Z")).body)
    assert before["interval"]["start"] == "2026-10-25T02:45:00+02:00"
    assert before["interval"]["end"] == "2026-10-25T02:00:00+01:00"
    assert after["interval"]["start"] == "2026-10-25T02:00:00+01:00"


def test_legacy_xml_is_valid_against_its_xsd_and_omits_undefined_averages() -> None:
    profile = load_profile(EXAMPLES / "legacy-xml.yaml")
    payload = render(profile, record(profile, "2026-11-02T08:00:00Z"))
    PayloadValidator(profile).check(payload.body)
    text = payload.body.decode()
    assert "<Calls>3</Calls><Answered>3</Answered><Abandoned>0</Abandoned><SL>66.7</SL>" in text
    assert "<ASA>16</ASA><AHT>271</AHT>" in text
    assert 'queueName="Support" mediaType="voice"><Calls>0</Calls><Answered>0</Answered>' in text
    assert "<Abandoned>0</Abandoned></Queue>" in text
    assert 'start="2026-11-02T03:00:00-05:00"' in text


def test_xsd_rejects_a_payload_that_breaks_it() -> None:
    profile = load_profile(EXAMPLES / "legacy-xml.yaml")
    body = render(profile, record(profile, "2026-11-02T08:00:00Z")).body
    with pytest.raises(PayloadInvalidError, match="Calls"):
        PayloadValidator(profile).check(body.replace(b"<Calls>3</Calls>", b"<Calls>-3</Calls>"))


def test_request_headers_carry_the_deterministic_key() -> None:
    profile = load_profile(EXAMPLES / "genesys-wfm-historical.yaml")
    assert profile.endpoint is not None
    first = record(profile, "2026-11-02T08:00:00Z")
    payload = render(profile, first)
    request = build_request(profile, profile.endpoint, first, payload)
    again = build_request(profile, profile.endpoint, record(profile, "2026-11-02T08:00:00Z"), payload)
    restated = build_request(profile, profile.endpoint, record(profile, "2026-11-02T08:00:00Z", 2), payload)
    assert request.method == "PUT"
    assert (
        request.url
        == "https://wfm.example.com/wfm/historical/genesys-wfm-historical/2026-11-02T08%3A00%3A00Z"
    )
    assert request.headers["Idempotency-Key"] == f'"{first.idempotency_key}"'
    assert again.headers["Idempotency-Key"] == request.headers["Idempotency-Key"]
    assert restated.headers["Idempotency-Key"] != request.headers["Idempotency-Key"]
    assert restated.headers["X-Streamvane-Revision"] == "2"
    assert "Authorization" not in request.headers


def test_a_record_of_an_older_contract_version_gets_a_new_key_with_its_new_body() -> None:
    profile = load_profile(EXAMPLES / "genesys-wfm-historical.yaml")
    upgraded = profile.model_copy(update={"version": 2})
    assert upgraded.endpoint is not None
    old = record(profile, "2026-11-02T08:00:00Z")
    request = build_request(upgraded, upgraded.endpoint, old, render(upgraded, old))
    expected = idempotency_key(upgraded.id, 2, old.interval_start_ms, old.revision, old.rows)
    assert request.headers["Idempotency-Key"] == f'"{expected}"' != f'"{old.idempotency_key}"'
    assert request.headers["X-Streamvane-Profile-Version"] == "2"


def test_the_service_level_is_rendered_as_computed_whatever_the_renderer_would_choose() -> None:
    """The record froze the switches it was computed with; rendering has none of its own."""
    profile = load_profile(EXAMPLES / "legacy-xml.yaml")
    start = parse_instant("2026-11-02T08:00:00Z")
    acc = IntervalAccumulator()
    for wait in (5_000, 12_000):
        acc.add("tAnswered", wait)
    acc.add("tAbandon", 3_000)
    acc.add("tShortAbandon", 3_000)
    cells = {(SALES, "voice"): acc}
    default = interval_record(profile, start, cells, kpi=KpiConfig())
    no_short = interval_record(profile, start, cells, kpi=KpiConfig(sl_include_short_abandons=False))
    assert "<SL>66.7</SL>" in render(profile, default).body.decode()  # 2 of 3 (short abandon counted)
    assert "<SL>100.0</SL>" in render(profile, no_short).body.decode()  # 2 of 2
    assert default.kpi_fingerprint != no_short.kpi_fingerprint


def test_a_record_without_recorded_kpi_settings_is_refused_not_rendered_with_todays() -> None:
    profile = load_profile(EXAMPLES / "legacy-xml.yaml")
    old = replace(record(profile, "2026-11-02T08:00:00Z"), kpi_fingerprint="")
    with pytest.raises(UnrenderableRecord, match="before records carried their KPI settings"):
        render(profile, old)
