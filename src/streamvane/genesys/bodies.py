"""pydantic models of the ``eventBody`` of each conversation detail topic: the fields Streamvane
reads, with Genesys' own names and strict types (an ``eventTime`` of ``"123"`` or ``1.5e12`` is
wrong, not coerced). Ids and enum values, when present, are non-empty: ``"queueId": ""`` names no
queue. Fields Streamvane does not read are ignored, whatever their type.

``EXTRA_FIELDS`` lists, per topic, the fields beyond the common ones and where they go in
:class:`~streamvane.genesys.events.ConversationEvent`; the parser's fast path is derived from it.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from streamvane.genesys.events import ConversationEvent, EventKind


class EventBody(BaseModel):
    """What every topic carries and Streamvane reads (customer.*, flow.*, user.start: only this)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    eventTime: StrictInt
    conversationId: StrictStr = Field(min_length=1)
    sessionId: StrictStr = Field(min_length=1)
    participantId: StrictStr | None = Field(None, min_length=1)
    mediaType: StrictStr | None = None


class AcdStartBody(EventBody):
    queueId: StrictStr | None = Field(None, min_length=1)


class AcdEndBody(AcdStartBody):
    acdOutcome: StrictStr | None = Field(None, min_length=1)
    disconnectType: StrictStr | None = Field(None, min_length=1)


class UserEndBody(EventBody):
    queueId: StrictStr | None = Field(None, min_length=1)
    userId: StrictStr | None = Field(None, min_length=1)
    disconnectType: StrictStr | None = Field(None, min_length=1)
    interactingDurationMs: StrictInt | None = Field(None, ge=0)
    heldDurationMs: StrictInt | None = Field(None, ge=0)
    alertingDurationMs: StrictInt | None = Field(None, ge=0)


class AcwBody(EventBody):
    queueId: StrictStr | None = Field(None, min_length=1)
    userId: StrictStr | None = Field(None, min_length=1)
    wrapupDurationMs: StrictInt | None = Field(None, ge=0)
    wrapupCode: StrictStr | None = Field(None, min_length=1)


_KPI_BODIES: dict[EventKind, type[EventBody]] = {
    EventKind.ACD_START: AcdStartBody,
    EventKind.ACD_END: AcdEndBody,
    EventKind.USER_END: UserEndBody,
    EventKind.ACW: AcwBody,
}
BODY_MODELS: Final[dict[EventKind, type[EventBody]]] = {
    kind: _KPI_BODIES.get(kind, EventBody) for kind in EventKind
}

_EVENT_FIELD = {
    "queueId": "queue_id",
    "userId": "user_id",
    "acdOutcome": "acd_outcome",
    "disconnectType": "disconnect_type",
    "interactingDurationMs": "interacting_ms",
    "heldDurationMs": "held_ms",
    "alertingDurationMs": "alerting_ms",
    "wrapupDurationMs": "wrapup_ms",
    "wrapupCode": "wrapup_code",
}
_FIRST_EXTRA = ConversationEvent._fields.index("queue_id")


def _extra(model: type[EventBody]) -> tuple[tuple[str, int, bool], ...]:
    """(Genesys name, slot after the common fields, is a duration) for the model's own fields."""
    return tuple(
        (
            name,
            ConversationEvent._fields.index(_EVENT_FIELD[name]) - _FIRST_EXTRA,
            name.endswith("DurationMs"),
        )
        for name in model.model_fields
        if name not in EventBody.model_fields
    )


EXTRA_FIELDS: Final[dict[EventKind, tuple[tuple[str, int, bool], ...]]] = {
    kind: _extra(model) for kind, model in BODY_MODELS.items()
}
