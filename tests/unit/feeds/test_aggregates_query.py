"""The queries that fetch Genesys' own figures: windows on the profile's grid, one body each."""

from __future__ import annotations

from itertools import pairwise

import pytest

from streamvane.feeds.aggregates_query import (
    MAX_PREDICATES,
    QueryRangeError,
    aggregates_query,
    merge_responses,
    query_windows,
)
from streamvane.feeds.profile import Dimension, FeedProfile
from streamvane.kpi.intervals import format_interval, parse_instant

DAY = 86_400_000
BERLIN = FeedProfile(id="berlin", version=1, cadence="PT30M", time_zone="Europe/Berlin")


def test_a_range_splits_at_interval_starts_into_windows_no_longer_than_allowed() -> None:
    start, end = parse_instant("2026-10-20T00:00:00Z"), parse_instant("2026-11-04T00:00:00Z")
    windows = query_windows(BERLIN, start, end, 7 * DAY)
    assert [format_interval(a, b) for a, b in windows] == [
        "2026-10-20T00:00:00.000Z/2026-10-27T00:00:00.000Z",
        "2026-10-27T00:00:00.000Z/2026-11-03T00:00:00.000Z",
        "2026-11-03T00:00:00.000Z/2026-11-04T00:00:00.000Z",
    ]
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(b == c for (_, b), (c, _) in pairwise(windows)), "contiguous"


def test_the_day_the_clocks_go_back_is_one_window_of_its_25_hours() -> None:
    start, end = parse_instant("2026-10-24T22:00:00Z"), parse_instant("2026-10-25T23:00:00Z")
    assert query_windows(BERLIN, start, end, 25 * 3_600_000) == [(start, end)]
    assert len(query_windows(BERLIN, start, end, DAY)) == 2


def test_a_range_off_the_grid_is_refused_with_the_reason() -> None:
    with pytest.raises(QueryRangeError, match="--from is not an interval start of berlin"):
        query_windows(
            BERLIN, parse_instant("2026-11-02T08:10:00Z"), parse_instant("2026-11-03T00:00:00Z"), DAY
        )


def test_the_body_asks_for_the_profiles_grid_and_queues_and_genesys_own_service_level() -> None:
    dims = tuple(
        Dimension(queue_id=f"q{i % 3}", media_type=m) for i, m in enumerate(["voice", "chat", "email"])
    )
    body = aggregates_query(BERLIN.model_copy(update={"dimensions": dims}), 0, 1_800_000)
    assert body["interval"] == "1970-01-01T00:00:00.000Z/1970-01-01T00:30:00.000Z"
    assert (body["granularity"], body["timeZone"], body["groupBy"]) == (
        "PT30M",
        "Europe/Berlin",
        ["queueId", "mediaType"],
    )
    assert "oServiceLevel" in body["metrics"] and "tShortAbandon" in body["metrics"]
    assert [p["value"] for p in body["filter"]["predicates"]] == ["q0", "q1", "q2"]
    many = tuple(Dimension(queue_id=f"q{i}", media_type="voice") for i in range(MAX_PREDICATES + 1))
    assert "filter" not in aggregates_query(BERLIN.model_copy(update={"dimensions": many}), 0, 1_800_000)


def test_window_responses_merge_per_group_in_order() -> None:
    group = {"queueId": "q", "mediaType": "voice"}
    first = {"results": [{"group": group, "data": [{"interval": "a"}]}]}
    second = {
        "results": [
            {"group": dict(reversed(group.items())), "data": [{"interval": "b"}]},
            {"group": {"queueId": "r", "mediaType": "voice"}, "data": [{"interval": "c"}]},
        ]
    }
    merged = merge_responses([first, second, {}])
    assert [(r["group"]["queueId"], [d["interval"] for d in r["data"]]) for r in merged["results"]] == [
        ("q", ["a", "b"]),
        ("r", ["c"]),
    ]
