"""Raw bytes → :class:`ConversationEvent`, :class:`IgnoredEvent` or :class:`Rejection`.

Accepts both shapes that reach Kafka (``shared/docs/genesys-reference.md`` §1.1):

* the Amazon EventBridge envelope: ``{"detail-type": …, "detail": {"topicName": …, "eventBody": {…}}}``
* the bare detail object: ``{"topicName": …, "eventBody": {…}}``

The topic is read from the concrete ``topicName`` (``v2.detail.events.conversation.<uuid>.acd.end``),
or, failing that, from the envelope's ``detail-type`` template (``…conversation.{id}.acd.end``).

The parser never raises on hostile input: every failure is a :class:`Rejection` whose ``reason``
is one of the ``REASON_*`` codes below. It is pure: the caller passes ``received_ms``, so the same
input always gives the same answer.

**Clock skew.** An event cannot have happened after it was received. Its *reference time* is the
earlier of ``received_ms`` (the Kafka record's timestamp in the worker; the wall clock in offline
``compute``) and the EventBridge envelope's ``time`` (set by EventBridge when it took the event in;
second precision), when the envelope has one. An ``eventTime`` more than ``max_clock_skew_ms``
after its reference time comes from a wrong clock and is rejected as ``clock-skew``: one such
event must not move a watermark and close every open interval.

**Durations** (``…DurationMs``) are integer milliseconds in ``[0, max_duration_ms]``; anything
else is ``invalid-value``, so no sum of accepted values can overflow a 64-bit output field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from streamvane.genesys.bodies import BODY_MODELS, EXTRA_FIELDS, EventBody
from streamvane.genesys.events import (
    KIND_BY_SUFFIX,
    TOPIC_PREFIX,
    UNUSED_SUFFIXES,
    ConversationEvent,
    EventKind,
    IgnoredEvent,
    ParseResult,
    Rejection,
    normalise_media,
)

REASON_TOO_LARGE = "too-large"
REASON_NOT_JSON = "not-json"
REASON_NOT_AN_OBJECT = "not-an-object"
REASON_UNKNOWN_SHAPE = "unknown-shape"
REASON_NOT_A_CONVERSATION_TOPIC = "not-a-conversation-topic"
REASON_MISSING_FIELD = "missing-field"
REASON_WRONG_TYPE = "wrong-type"
REASON_INVALID_VALUE = "invalid-value"
REASON_CLOCK_SKEW = "clock-skew"
REASON_ANCIENT_EVENT_TIME = "ancient-event-time"
REASON_UNKNOWN_TOPIC = "unknown-topic"

EARLIEST_PLAUSIBLE_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: older event times are corrupt
DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000
DEFAULT_MAX_DURATION_MS = 30 * 86_400_000
_NO_BOUND = 2**63
_TIMED_KINDS = frozenset({EventKind.USER_END, EventKind.ACW})  # the topics with duration fields
_DURATIONS = (
    ("interacting_ms", "interactingDurationMs"),
    ("held_ms", "heldDurationMs"),
    ("alerting_ms", "alertingDurationMs"),
    ("wrapup_ms", "wrapupDurationMs"),
)


@dataclass(frozen=True, slots=True)
class EventParser:
    """Parses one raw record. Limits are constructor arguments so the shell can configure them."""

    max_bytes: int = 256 * 1024
    max_clock_skew_ms: int = DEFAULT_MAX_CLOCK_SKEW_MS
    max_duration_ms: int = DEFAULT_MAX_DURATION_MS
    _instants: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def parse(self, raw: bytes, received_ms: int) -> ParseResult:
        """One record received at ``received_ms`` (epoch ms UTC)."""
        if len(raw) > self.max_bytes:
            return Rejection(REASON_TOO_LARGE, f"{len(raw)} bytes exceeds the limit of {self.max_bytes}")
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return Rejection(REASON_NOT_JSON, str(exc))
        return self.parse_object(doc, received_ms)

    def parse_object(self, doc: Any, received_ms: int) -> ParseResult:
        """The same, for an already decoded JSON value."""
        if type(doc) is not dict:
            return Rejection(REASON_NOT_AN_OBJECT, f"top-level JSON is {type(doc).__name__}, not an object")
        located = _locate(doc)
        if isinstance(located, Rejection):
            return located
        suffix, body = located
        kind = KIND_BY_SUFFIX.get(suffix)
        if kind is None:
            if suffix not in UNUSED_SUFFIXES:
                return Rejection(REASON_UNKNOWN_TOPIC, f"topic suffix {suffix[:100]!r} is not a Genesys one")
            event_time = body.get("eventTime")
            return IgnoredEvent(suffix, event_time if isinstance(event_time, int) else 0)
        event = _fast_event(kind, body)
        if event is None:
            try:
                event = _event_from_model(kind, BODY_MODELS[kind].model_validate(body))
            except ValidationError as exc:
                return _rejection_from(exc)
        event_time = event.event_time_ms
        reference = received_ms
        stamped = doc.get("time")
        if type(stamped) is str:
            envelope_ms = self._instants.get(stamped)
            if envelope_ms is None:
                envelope_ms = self._instant_ms(stamped)
            if envelope_ms < reference:
                reference = envelope_ms
        if event_time > reference + self.max_clock_skew_ms:
            return Rejection(
                REASON_CLOCK_SKEW,
                f"eventTime {event_time} is more than {self.max_clock_skew_ms} ms after the time it was "
                f"received ({reference})",
            )
        if event_time < EARLIEST_PLAUSIBLE_MS:
            return Rejection(REASON_ANCIENT_EVENT_TIME, f"eventTime {event_time} is before 2000-01-01")
        if kind in _TIMED_KINDS:
            limit = self.max_duration_ms
            for slot, name in _DURATIONS:
                value = getattr(event, slot)
                if value is not None and value > limit:
                    return Rejection(
                        REASON_INVALID_VALUE,
                        f"eventBody.{name}: {value} ms is longer than the {limit} ms allowed",
                    )
        return event

    def _instant_ms(self, text: str) -> int:
        """An envelope ``time`` as epoch ms, cached: consecutive records mostly share one. One
        that cannot be read bounds nothing (a far-future instant)."""
        try:
            parsed = datetime.fromisoformat(text)
            value = int(parsed.timestamp() * 1000) if parsed.tzinfo is not None else _NO_BOUND
        except ValueError:
            value = _NO_BOUND
        if len(self._instants) > 4096:
            self._instants.clear()
        self._instants[text] = value
        return value


def _event_from_model(kind: EventKind, body: EventBody) -> ConversationEvent:
    slots: list[Any] = [None] * 9
    for name, slot, _duration in EXTRA_FIELDS[kind]:
        slots[slot] = getattr(body, name)
    media = normalise_media(body.mediaType)
    return ConversationEvent(
        kind, body.eventTime, body.conversationId, body.sessionId, body.participantId, media, *slots
    )


# The hot path builds events as plain tuples of every field: the NamedTuple's generated __new__
# costs twice as much per event.
_new_event = tuple.__new__
_NO_EXTRA = (None,) * (len(ConversationEvent._fields) - 6)
_MEDIA = {name: name.lower() for name in ("VOICE", "CHAT", "EMAIL", "CALLBACK", "MESSAGE", "UNKNOWN")}


def _fast_event(kind: EventKind, body: dict[str, Any]) -> ConversationEvent | None:
    """The event of a body that certainly passes its topic's model, or None to let pydantic decide.

    The hot path: plain type checks that accept exactly what the models of
    :mod:`streamvane.genesys.bodies` accept (a property test holds the two to that), so
    well-formed events skip model construction. Anything doubtful, including every invalid body,
    goes through the model, which words the rejection.
    """
    get = body.get
    event_time = get("eventTime")
    conversation = get("conversationId")
    session = get("sessionId")
    if type(event_time) is not int or type(conversation) is not str or type(session) is not str:
        return None
    if not conversation or not session:
        return None
    participant = get("participantId")
    media = get("mediaType")
    if (participant is not None and (type(participant) is not str or not participant)) or (
        media is not None and type(media) is not str
    ):
        return None
    media = _MEDIA.get(media) or normalise_media(media)  # type: ignore[arg-type]
    extra = EXTRA_FIELDS[kind]
    if not extra:
        return _new_event(
            ConversationEvent, (kind, event_time, conversation, session, participant, media, *_NO_EXTRA)
        )
    slots: list[Any] = [None] * 9
    for name, slot, duration in extra:
        value = get(name)
        if value is None:
            continue
        if duration:
            if type(value) is not int or value < 0:
                return None
        elif type(value) is not str or not value:
            return None
        slots[slot] = value
    return _new_event(
        ConversationEvent, (kind, event_time, conversation, session, participant, media, *slots)
    )


def _locate(doc: dict[str, Any]) -> tuple[str, dict[str, Any]] | Rejection:
    """Find ``(topic suffix, eventBody)`` in either shape."""
    detail = doc.get("detail")
    if type(detail) is not dict:
        if "topicName" not in doc and "eventBody" not in doc:
            return Rejection(
                REASON_UNKNOWN_SHAPE, "neither an EventBridge envelope (detail) nor a bare detail (topicName)"
            )
        detail = doc
    topic = detail.get("topicName")
    if topic is None and detail is not doc:
        topic = doc.get("detail-type")
    if type(topic) is not str:
        return Rejection(REASON_MISSING_FIELD if topic is None else REASON_WRONG_TYPE, "topicName")
    if not topic.startswith(TOPIC_PREFIX):
        return Rejection(REASON_NOT_A_CONVERSATION_TOPIC, f"topic {topic[:200]!r}")
    rest = topic[len(TOPIC_PREFIX) :]
    _, dot, suffix = rest.partition(".")
    if not dot or not suffix:
        return Rejection(REASON_INVALID_VALUE, f"topic {topic[:200]!r} has no event suffix")
    body = detail.get("eventBody")
    if type(body) is not dict:
        if body is None:
            return Rejection(REASON_MISSING_FIELD, "eventBody")
        return Rejection(REASON_WRONG_TYPE, f"eventBody is {type(body).__name__}, not an object")
    return suffix, body


def _rejection_from(exc: ValidationError) -> Rejection:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "eventBody"
    if error["type"] == "missing":
        return Rejection(REASON_MISSING_FIELD, f"eventBody.{where} is required")
    if error["type"].endswith("_type") or error["type"] == "model_attributes_type":
        return Rejection(REASON_WRONG_TYPE, f"eventBody.{where}: {error['msg']}")
    return Rejection(REASON_INVALID_VALUE, f"eventBody.{where}: {error['msg']}")
