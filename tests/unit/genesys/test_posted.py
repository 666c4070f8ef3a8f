"""What a POSTed body carries: one event, an array, or NDJSON; a body that is none is refused."""

from __future__ import annotations

import orjson
import pytest

from streamvane.genesys.posted import PostedBodyError, split_events

A = {"detail": {"eventBody": {"conversationId": "c1"}}}
B = {"detail": {"eventBody": {"conversationId": "c2"}}}


def test_one_eventbridge_event_is_itself() -> None:
    body = orjson.dumps(A)
    posted = split_events(body)
    assert (posted.events, posted.form) == ([body], "object")


def test_an_array_gives_each_element_and_keeps_a_bad_one_for_the_parser_to_reject() -> None:
    posted = split_events(orjson.dumps([A, 7, B]))
    assert posted.form == "array"
    assert [orjson.loads(e) for e in posted.events] == [A, 7, B]


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json"])
def test_ndjson_by_content_type_or_by_its_lines_skips_blank_lines(content_type: str) -> None:
    body = orjson.dumps(A) + b"\n\n" + orjson.dumps(B) + b"\r\n{broken\n"
    posted = split_events(body, content_type)
    assert posted.form == "ndjson"
    assert posted.events == [orjson.dumps(A), orjson.dumps(B), b"{broken"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"  \n ", "empty"),
        (b"[]", "empty"),
        (b"{not json", "not-json"),
        (b'"a string"', "not-events"),
        (b"[" * 10_000 + b"]" * 10_000, "too-deep"),
    ],
)
def test_a_body_that_is_no_events_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(PostedBodyError) as refused:
        split_events(body)
    assert refused.value.reason == reason
