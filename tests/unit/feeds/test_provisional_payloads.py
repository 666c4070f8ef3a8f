"""Provisional updates on the wire: the same document plus a provisional marking (body and
header) and their own key; the final of a profile with updates is byte for byte the final of
the same profile without them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.loader import load_profile
from streamvane.feeds.payload_schema import PayloadValidator
from streamvane.feeds.profile import FeedProfile, ProvisionalSpec
from streamvane.feeds.render import render
from streamvane.feeds.request import PROVISIONAL_HEADER, build_request
from streamvane.feeds.sample_records import sample_records
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import parse_instant
from streamvane.records.feed_record import FeedRecord

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles"
SALES = "50feb9c2-a2e7-598e-ab50-932bffc1db65"
START = parse_instant("2026-11-02T08:00:00Z")


def with_updates(profile: FeedProfile, every_ms: int = 300_000) -> FeedProfile:
    return profile.model_copy(update={"provisional": ProvisionalSpec(every_ms=every_ms)})


def cells(offered: int) -> dict[tuple[str, str], IntervalAccumulator]:
    acc = IntervalAccumulator()
    for _ in range(offered):
        acc.add("nOffered", 1)
    acc.add("tAnswered", 12_000)
    return {(SALES, "voice"): acc}


def update(profile: FeedProfile, number: int, offered: int) -> FeedRecord:
    return interval_record(profile, START, cells(offered), kpi=KpiConfig(), provisional=number)


def test_an_update_is_the_interval_so_far_marked_provisional_in_the_body_and_a_header() -> None:
    profile = with_updates(load_profile(EXAMPLES / "genesys-wfm-historical.yaml"))
    assert profile.endpoint is not None
    second = update(profile, 2, offered=3)
    payload = render(profile, second)
    doc = orjson.loads(payload.body)
    assert doc["provisional"] == {"update": 2, "asOf": "2026-11-02T08:10:00Z"}
    assert doc["revision"] == 1
    assert [r["offered"] for r in doc["rows"] if r["queueId"] == SALES] == [3]
    PayloadValidator(profile).check(payload.body)
    request = build_request(profile, profile.endpoint, second, payload)
    assert request.headers[PROVISIONAL_HEADER] == "2"
    final = interval_record(profile, START, cells(4), kpi=KpiConfig())
    final_request = build_request(profile, profile.endpoint, final, render(profile, final))
    assert PROVISIONAL_HEADER not in final_request.headers
    keys = {
        build_request(profile, profile.endpoint, r, render(profile, r)).headers["Idempotency-Key"]
        for r in (update(profile, 1, 3), second, update(profile, 3, 3), final)
    }
    assert len(keys) == 4, "each update and the final its own key, even with the same numbers"


@pytest.mark.parametrize("name", ["genesys-wfm-historical.yaml", "calabrio-queue-stats.yaml"])
def test_the_final_of_a_profile_with_updates_is_byte_identical_to_the_finals_only_one(name: str) -> None:
    finals_only = load_profile(EXAMPLES / name).model_copy(update={"provisional": None})
    updating = with_updates(finals_only)
    assert finals_only.endpoint is not None and updating.endpoint is not None
    for revision in (1, 2):
        a = interval_record(finals_only, START, cells(4), revision, kpi=KpiConfig())
        b = interval_record(updating, START, cells(4), revision, kpi=KpiConfig())
        assert a == b
        assert render(finals_only, a).body == render(updating, b).body
        assert build_request(finals_only, finals_only.endpoint, a, render(finals_only, a)) == build_request(
            updating, updating.endpoint, b, render(updating, b)
        )


def test_only_a_contract_with_updates_accepts_the_provisional_marking() -> None:
    finals_only = load_profile(EXAMPLES / "genesys-wfm-historical.yaml")
    assert finals_only.provisional is None
    updating = with_updates(finals_only)
    body = render(updating, update(updating, 1, 2)).body
    assert PayloadValidator(finals_only).problems(body), "a finals-only contract refuses the marking"
    assert PayloadValidator(updating).problems(body) == []


def test_xml_marks_an_update_on_its_root_and_an_xsd_without_those_attributes_refuses_it() -> None:
    legacy = with_updates(load_profile(EXAMPLES / "legacy-xml.yaml"), every_ms=600_000)
    record = interval_record(legacy, START, cells(2), kpi=KpiConfig(), provisional=1)
    body = render(legacy, record).body.decode()
    assert 'provisionalUpdate="1" provisionalAsOf="2026-11-02T08:10:00Z"' in body
    validator = PayloadValidator(legacy)
    problems = [validator.problems(render(legacy, sample).body) for sample in sample_records(legacy)]
    assert problems[:2] == [[], []], "the finals pass"
    assert any("provisionalUpdate" in p for p in problems[2]), "profiles validate shows the XSD refusing"
