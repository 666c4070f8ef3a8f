"""The Genesys aggregates queries that fetch a profile's own figures for reconciliation.

``POST /api/v2/analytics/conversations/aggregates/query`` (model ConversationAggregationQuery,
``genesys-reference.md`` §2.1) with the profile's granularity and time zone, grouped by queueId
and mediaType, asking for every metric Streamvane computes (so every mapped field can be judged)
plus ``oServiceLevel``, Genesys' own numerator and denominator under the org's switches.

A range is split into windows of at most ``max_window_ms`` whose bounds are interval starts of
the profile's grid, so each window's buckets are exactly the profile's intervals (half-open
``[start, end)``, epoch ms; written as ISO-8601 UTC, as Genesys writes them). A profile that lists
its dimensions filters on their queues (at most :data:`MAX_PREDICATES` per query; more are
fetched unfiltered and the extra rows ignored by reconciliation).
"""

from __future__ import annotations

from typing import Any

from streamvane.errors import InputError
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi import metrics as m
from streamvane.kpi.intervals import format_interval, parse_instant

QUERY_PATH = "/api/v2/analytics/conversations/aggregates/query"
METRICS = tuple(sorted((*m.COUNT_METRICS, *m.DURATION_METRICS, m.O_SERVICE_LEVEL)))
MAX_PREDICATES = 100


class QueryRangeError(InputError):
    """The range does not start or end on the profile's interval grid."""


def query_windows(
    profile: FeedProfile, from_ms: int, to_ms: int, max_window_ms: int
) -> list[tuple[int, int]]:
    """``[from_ms, to_ms)`` cut at interval starts into windows no longer than ``max_window_ms``
    (each at least one interval)."""
    grid = profile.grid()
    for name, at in (("--from", from_ms), ("--to", to_ms)):
        if grid.start_of(at) != at:
            raise QueryRangeError(
                f"{name} is not an interval start of {profile.id} ({profile.cadence}, {profile.time_zone})"
            )
    windows: list[tuple[int, int]] = []
    start = from_ms
    while start < to_ms:
        end = grid.next_start(start)
        while end < to_ms and grid.next_start(end) - start <= max_window_ms:
            end = grid.next_start(end)
        windows.append((start, end))
        start = end
    return windows


def aggregates_query(profile: FeedProfile, start_ms: int, end_ms: int) -> dict[str, Any]:
    """One window's query body."""
    body: dict[str, Any] = {
        "interval": format_interval(start_ms, end_ms),
        "granularity": profile.cadence,
        "timeZone": profile.time_zone,
        "groupBy": ["queueId", "mediaType"],
        "metrics": list(METRICS),
    }
    queues = sorted({d.queue_id for d in profile.dimensions})
    if queues and len(queues) <= MAX_PREDICATES:
        body["filter"] = {
            "type": "or",
            "predicates": [
                {"type": "dimension", "dimension": "queueId", "operator": "matches", "value": q}
                for q in queues
            ],
        }
    return body


def merge_responses(responses: list[dict[str, Any]]) -> dict[str, Any]:
    """Several windows' responses as one: each group's data concatenated in window order."""
    groups: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for response in responses:
        for result in response.get("results") or []:
            group = result.get("group") or {}
            key = tuple(sorted((str(k), str(v)) for k, v in group.items()))
            merged = groups.setdefault(key, {"group": group, "data": []})
            merged["data"].extend(result.get("data") or [])
    return {"results": list(groups.values())}


def answer_query(body: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """What Genesys would answer to ``body`` if ``doc`` (an aggregates document at the query's
    granularity and time zone) held all its figures: the groups its queueId filter selects, with
    the buckets inside its interval. The demo's stand-in and the tests' contract server use it."""
    start_text, end_text = str(body["interval"]).split("/")
    start, end = parse_instant(start_text), parse_instant(end_text)
    predicates = (body.get("filter") or {}).get("predicates", [])
    queues = {p["value"] for p in predicates if p.get("dimension") == "queueId"}
    results = []
    for result in doc.get("results", []):
        if queues and result["group"]["queueId"] not in queues:
            continue
        data = [d for d in result["data"] if start <= parse_instant(str(d["interval"]).split("/")[0]) < end]
        if data:
            results.append({"group": result["group"], "data": data})
    return {"results": results}
