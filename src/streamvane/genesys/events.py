"""Typed Genesys Cloud conversation detail events, as the KPI core consumes them.

One flat, frozen, slotted value class for every topic the KPI core uses: a topic only fills the
fields its SDK model carries (see ``shared/docs/genesys-reference.md`` §1.2). Field names follow
the SDK (``interactingDurationMs`` → ``interacting_ms``). Durations are integer milliseconds as
Genesys reports them; ``event_time_ms`` is epoch ms UTC.

Enumerations are plain strings on purpose: Genesys adds values, and an unknown value must be
kept, not rejected. Media types are normalised once, here, to the lowercase spelling the
aggregates API uses (``VOICE`` → ``voice``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

TOPIC_PREFIX = "v2.detail.events.conversation."


class EventKind(StrEnum):
    """The conversation detail-event topics the KPI core understands, by topic suffix.

    A ``StrEnum`` so members hash and compare as their string (in C): plain ``Enum`` hashing
    runs Python code, and the hot path looks kinds up several times per event.
    """

    CUSTOMER_START = "customer.start"
    CUSTOMER_END = "customer.end"
    ACD_START = "acd.start"
    ACD_END = "acd.end"
    USER_START = "user.start"
    USER_END = "user.end"
    ACW = "acw"
    FLOW_START = "flow.start"
    FLOW_END = "flow.end"


KIND_BY_SUFFIX: dict[str, EventKind] = {kind.value: kind for kind in EventKind}
# Genesys conversation detail topics that exist but carry nothing the KPI core reads: they are
# ignored (counted by suffix). Any other suffix, including a wrongly cased known one, is rejected
# as ``unknown-topic`` (``shared/docs/genesys-reference.md`` §1.2 lists the real topics).
UNUSED_SUFFIXES = frozenset({"attributes", "outbound", "voicemail.start", "voicemail.end", "contact"})
# The topics that carry KPIs; the others are parsed and validated for identity only.
KPI_KINDS = frozenset({EventKind.ACD_START, EventKind.ACD_END, EventKind.USER_END, EventKind.ACW})

# acdOutcome values that the KPI core acts on; any other value is kept on the event as-is.
OUTCOME_ANSWERED = "ANSWERED"
OUTCOME_ABANDON = "ABANDON"
OUTCOME_FLOW_OUT = "FLOW_OUT"

TRANSFER_DISCONNECTS = frozenset({"TRANSFER", "CONSULT_TRANSFER", "FORWARD_TRANSFER", "CONFERENCE_TRANSFER"})


def normalise_media(value: str | None) -> str:
    """``VOICE`` → ``voice``; a missing media type is ``unknown`` (as Genesys' own enum has it)."""
    return value.lower() if value else "unknown"


class ConversationEvent(NamedTuple):
    """One conversation detail event that the KPI core acts on.

    A NamedTuple rather than a frozen dataclass: it is built once per event on the hot path, and
    a frozen dataclass costs four times as much to construct.
    """

    kind: EventKind
    event_time_ms: int
    conversation_id: str
    session_id: str
    participant_id: str | None = None
    media_type: str = "unknown"
    queue_id: str | None = None
    user_id: str | None = None
    acd_outcome: str | None = None
    disconnect_type: str | None = None
    interacting_ms: int | None = None
    held_ms: int | None = None
    alerting_ms: int | None = None
    wrapup_ms: int | None = None
    wrapup_code: str | None = None

    @property
    def identity(self) -> tuple[str, str, EventKind, int]:
        """What makes two deliveries the same event: (conversationId, sessionId, topic, eventTime)."""
        return (self.conversation_id, self.session_id, self.kind, self.event_time_ms)


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """A well-formed event of a topic the KPI core does not use (``attributes``, ``outbound``…)."""

    topic_suffix: str
    event_time_ms: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """Input that is not a usable event, with a machine-readable reason and a human detail.

    ``reason`` is one of the ``REASON_*`` codes of :mod:`streamvane.genesys.parse`; it travels in
    the quarantine topic's reason header.
    """

    reason: str
    detail: str


ParseResult = ConversationEvent | IgnoredEvent | Rejection
