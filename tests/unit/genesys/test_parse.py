"""The parser: both shapes in, typed events out; hostile input becomes a precise rejection."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamvane.genesys.bodies import AcdEndBody, AcwBody, UserEndBody
from streamvane.genesys.events import ConversationEvent, EventKind, IgnoredEvent, Rejection
from streamvane.genesys.parse import EventParser, _fast_event
from tests.support.genesys import at, envelope

NOW = at("12:00")
parser = EventParser()

ACD_END = {
    "eventTime": at("11:59"),
    "conversationId": "c-1",
    "sessionId": "s-1",
    "participantId": "p-1",
    "mediaType": "VOICE",
    "queueId": "q-1",
    "acdOutcome": "ANSWERED",
    "disconnectType": "TRANSFER",
    "usedRouting": "BULLSEYE",
    "requestedRoutingSkillIds": ["a"],
}


def parse(doc: Any) -> Any:
    return parser.parse(orjson.dumps(doc), NOW)


def test_envelope_and_bare_detail_parse_to_the_same_event() -> None:
    wrapped = parse(envelope("acd.end", ACD_END))
    bare = parse({"topicName": "v2.detail.events.conversation.c-1.acd.end", "eventBody": ACD_END})
    assert wrapped == bare
    assert isinstance(wrapped, ConversationEvent)
    assert wrapped.kind is EventKind.ACD_END
    assert wrapped.media_type == "voice"
    assert (wrapped.queue_id, wrapped.acd_outcome, wrapped.disconnect_type) == ("q-1", "ANSWERED", "TRANSFER")
    assert wrapped.identity == ("c-1", "s-1", "acd.end", at("11:59"))


def test_detail_type_template_is_used_when_topic_name_is_missing() -> None:
    doc = envelope("acw", {**ACD_END, "wrapupDurationMs": 5})
    del doc["detail"]["topicName"]
    event = parse(doc)
    assert isinstance(event, ConversationEvent) and event.kind is EventKind.ACW and event.wrapup_ms == 5


def test_unknown_enum_values_are_kept_not_rejected() -> None:
    event = parse(envelope("acd.end", {**ACD_END, "acdOutcome": "BRAND_NEW", "mediaType": "HOLOGRAM"}))
    assert isinstance(event, ConversationEvent)
    assert (event.acd_outcome, event.media_type) == ("BRAND_NEW", "hologram")


def test_event_time_is_bounded_by_the_envelope_time_when_earlier_than_received() -> None:
    doc = envelope("acd.end", {**ACD_END, "eventTime": at("09:10")})
    doc["time"] = "2026-11-02T09:00:00Z"  # EventBridge took it in at 09:00: a 09:10 event is a wrong clock
    result = parse(doc)
    assert isinstance(result, Rejection) and result.reason == "clock-skew"
    doc["time"] = "2026-11-02T09:06:00Z"
    assert isinstance(parse(doc), ConversationEvent)
    doc["time"] = "not a time"  # unreadable: the received time alone bounds it
    assert isinstance(parse(doc), ConversationEvent)


def test_other_conversation_topics_are_accepted_and_ignored() -> None:
    assert parse(envelope("attributes", {"eventTime": 5, "conversationId": "c"})) == IgnoredEvent(
        "attributes", 5
    )
    assert parse(envelope("voicemail.end", {"conversationId": "c"})) == IgnoredEvent("voicemail.end", 0)


@pytest.mark.parametrize(
    ("raw", "reason", "detail_part"),
    [
        (b"{not json", "not-json", ""),
        (b"[1, 2]", "not-an-object", "list"),
        (b'{"hello": 1}', "unknown-shape", "EventBridge"),
        (
            orjson.dumps({"topicName": "v2.users.x.presence", "eventBody": {}}),
            "not-a-conversation-topic",
            "presence",
        ),
        (
            orjson.dumps(envelope("acd.end", {k: v for k, v in ACD_END.items() if k != "eventTime"})),
            "missing-field",
            "eventTime",
        ),
        (orjson.dumps(envelope("acd.end", {**ACD_END, "eventTime": "yesterday"})), "wrong-type", "eventTime"),
        (orjson.dumps(envelope("acd.end", {**ACD_END, "eventTime": 1.5e12})), "wrong-type", "eventTime"),
        (
            orjson.dumps(envelope("user.end", {**ACD_END, "heldDurationMs": -4})),
            "invalid-value",
            "heldDurationMs",
        ),
        (orjson.dumps(envelope("acd.end", {**ACD_END, "queueId": 7})), "wrong-type", "queueId"),
        (
            orjson.dumps(envelope("acd.end", {**ACD_END, "eventTime": NOW + 2 * 86_400_000})),
            "clock-skew",
            "after the time it was received",
        ),
        (
            orjson.dumps(envelope("acd.end", {**ACD_END, "eventTime": NOW + 300_001})),
            "clock-skew",
            "300000 ms",
        ),
        (orjson.dumps(envelope("acd.end", {**ACD_END, "queueId": ""})), "invalid-value", "queueId"),
        (
            orjson.dumps(envelope("acd.end", {**ACD_END, "conversationId": ""})),
            "invalid-value",
            "conversationId",
        ),
        (orjson.dumps(envelope("acw", {**ACD_END, "userId": ""})), "invalid-value", "userId"),
        (orjson.dumps(envelope("ACD.START", ACD_END)), "unknown-topic", "ACD.START"),
        (orjson.dumps(envelope("acd.stop", ACD_END)), "unknown-topic", "acd.stop"),
        (
            orjson.dumps(envelope("user.end", {**ACD_END, "interactingDurationMs": 30 * 86_400_000 + 1})),
            "invalid-value",
            "interactingDurationMs",
        ),
        (
            orjson.dumps(envelope("acw", {**ACD_END, "wrapupDurationMs": 2**63})),
            "invalid-value",
            "wrapupDurationMs",
        ),
        (orjson.dumps(envelope("acd.end", {**ACD_END, "eventTime": 1000})), "ancient-event-time", "2000"),
        (
            orjson.dumps({"topicName": "v2.detail.events.conversation.c.acd.end", "eventBody": [1]}),
            "wrong-type",
            "eventBody",
        ),
        (
            orjson.dumps({"topicName": "v2.detail.events.conversation.c.acd.end"}),
            "missing-field",
            "eventBody",
        ),
        (b'{"detail": {"eventBody": {}}, "detail-type": 5}', "wrong-type", "topicName"),
        (b"x" * 300_000, "too-large", "300000"),
    ],
)
def test_bad_input_is_a_rejection_with_a_precise_reason(raw: bytes, reason: str, detail_part: str) -> None:
    result = parser.parse(raw, NOW)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert detail_part in result.detail


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**62), st.floats(allow_nan=False), st.text(max_size=3)
)
FIELDS = sorted({*UserEndBody.model_fields, *AcwBody.model_fields, *AcdEndBody.model_fields})


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body with a few fields replaced by arbitrary JSON scalars or removed."""
    body = {**ACD_END, "interactingDurationMs": 10, "wrapupDurationMs": 0}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            body[name] = draw(json_scalars)
        else:
            body.pop(name, None)
    return body


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(bodies(), st.sampled_from(list(EventKind)))
def test_fast_path_accepts_exactly_what_the_pydantic_model_accepts(
    body: dict[str, Any], kind: EventKind
) -> None:
    fast = _fast_event(kind, body)
    slow = parser.parse_object(
        {"topicName": f"v2.detail.events.conversation.c.{kind.value}", "eventBody": body}, 2**62
    )
    if fast is not None:
        assert isinstance(slow, ConversationEvent | Rejection)
        if isinstance(slow, Rejection):  # checks after the body's shape: the same for both paths
            assert slow.reason == "ancient-event-time" or "longer than" in slow.detail
        else:
            assert slow == fast
    else:
        assert isinstance(slow, Rejection)
