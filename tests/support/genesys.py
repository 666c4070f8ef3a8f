"""Hand-written Genesys conversations for specification tests.

``Conversation`` builds the detail events of one conversation with readable times
(``"07:28"`` on the scenario's day, UTC unless told otherwise); ``lines()`` gives them as the JSON
lines Kafka would carry, in EventBridge envelopes or bare.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

DAY = "2026-11-02"
_ids = itertools.count(1)


def at(clock: str, day: str = DAY) -> int:
    """Epoch ms of ``HH:MM[:SS]`` UTC on ``day``."""
    parts = [int(p) for p in clock.split(":")]
    hh, mm, ss = ([*parts, 0, 0])[:3]
    y, mo, d = (int(p) for p in day.split("-"))
    return int(datetime(y, mo, d, hh, mm, ss, tzinfo=UTC).timestamp() * 1000)


def envelope(suffix: str, body: dict[str, Any]) -> dict[str, Any]:
    detail = {
        "topicName": f"v2.detail.events.conversation.{body.get('conversationId', 'x')}.{suffix}",
        "version": "2",
        "eventBody": body,
    }
    return {
        "version": "0",
        "id": f"evt-{next(_ids)}",
        "detail-type": f"v2.detail.events.conversation.{{id}}.{suffix}",
        "detail": detail,
    }


@dataclass
class Conversation:
    media: str = "VOICE"
    conversation_id: str = field(default_factory=lambda: f"conv-{next(_ids)}")
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def _body(self, session: str, time_ms: int, **fields: Any) -> dict[str, Any]:
        body = {
            "eventTime": time_ms,
            "conversationId": self.conversation_id,
            "sessionId": session,
            "participantId": f"p-{session}",
            "mediaType": self.media,
        }
        body.update({k: v for k, v in fields.items() if v is not None})
        return body

    def queue(
        self,
        queue: str,
        entered: int,
        ended: int | None,
        outcome: str = "ANSWERED",
        session: str | None = None,
    ) -> str:
        """An ACD session in ``queue``: acd.start at ``entered``, acd.end (outcome) at ``ended``."""
        session = session or f"acd-{next(_ids)}"
        self.events.append(("acd.start", self._body(session, entered, queueId=queue)))
        if ended is not None:
            self.events.append(("acd.end", self._body(session, ended, queueId=queue, acdOutcome=outcome)))
        return session

    def agent(
        self,
        queue: str,
        ended: int,
        talk_ms: int,
        held_ms: int = 0,
        alert_ms: int = 0,
        disconnect: str = "CLIENT",
        acw_at: int | None = None,
        wrapup_ms: int = 0,
        session: str | None = None,
    ) -> str:
        """An agent session: user.end at ``ended`` with durations, and an acw at ``acw_at``."""
        session = session or f"user-{next(_ids)}"
        self.events.append(
            (
                "user.end",
                self._body(
                    session,
                    ended,
                    queueId=queue,
                    userId="agent-1",
                    disconnectType=disconnect,
                    interactingDurationMs=talk_ms,
                    heldDurationMs=held_ms,
                    alertingDurationMs=alert_ms,
                ),
            )
        )
        if acw_at is not None:
            self.events.append(
                ("acw", self._body(session, acw_at, queueId=queue, wrapupDurationMs=wrapup_ms))
            )
        return session

    def lines(self, bare: bool = False) -> list[bytes]:
        return [
            orjson.dumps(
                {
                    "topicName": f"v2.detail.events.conversation.{self.conversation_id}.{s}",
                    "eventBody": b,
                }
                if bare
                else envelope(s, b)
            )
            for s, b in self.events
        ]


def lines_of(*conversations: Conversation) -> list[bytes]:
    """All events of the conversations, in event-time order."""
    events = sorted(
        (
            (b["eventTime"], line)
            for c in conversations
            for (_, b), line in zip(c.events, c.lines(), strict=True)
        ),
        key=lambda item: item[0],
    )
    return [line for _, line in events]
