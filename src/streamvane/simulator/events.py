"""Simulated facts → Genesys conversation detail events, in delivery order, as JSON lines.

Events carry the fields the real SDK models name (``genesys-reference.md`` §1.2), wrapped in an
Amazon EventBridge envelope or given as bare detail objects. Delivery order is event-time order,
optionally jittered by up to ``reorder_ms`` and with a fraction of events delivered twice.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson

from streamvane.kpi.intervals import format_instant
from streamvane.simulator.contact_center import AcdLeg, AgentLeg, Conversation
from streamvane.simulator.spec import SimulationSpec

ORG_ID = "5d1b1c2e-0000-4000-8000-000000000001"
DIVISION_ID = "9e2a7f00-0000-4000-8000-0000000000d1"
TEMPLATE = "v2.detail.events.conversation.{id}."

Event = tuple[str, dict[str, Any]]  # (topic suffix, eventBody)


def conversation_events(conversation: Conversation) -> list[Event]:
    """Every event of one conversation, in no particular order."""
    c = conversation
    media = c.media_type.upper()
    common = {"conversationId": c.conversation_id, "mediaType": media, "direction": "INBOUND"}
    customer = {**common, "participantId": c.customer_participant_id, "sessionId": c.customer_session_id}
    events: list[Event] = [
        ("customer.start", {**customer, "eventTime": c.arrival_ms, "divisionId": DIVISION_ID}),
        ("flow.start", {**customer, "eventTime": c.arrival_ms + 50, "flowType": "INBOUNDCALL"}),
        ("flow.end", {**customer, "eventTime": c.arrival_ms + c.ivr_ms, "disconnectType": "TRANSFER"}),
    ]
    for acd in c.acd:
        events.extend(_acd_events(customer, acd))
    for agent in c.agents:
        events.extend(_agent_events(common, agent))
    customer_end = c.end_ms + 1
    events.append(("customer.end", {**customer, "eventTime": customer_end, "disconnectType": "CLIENT"}))
    return events


def _acd_events(customer: dict[str, Any], acd: AcdLeg) -> list[Event]:
    base = {**customer, "sessionId": acd.session_id, "queueId": acd.queue_id, "divisionId": DIVISION_ID}
    end = {**base, "eventTime": acd.end_ms, "acdOutcome": acd.outcome, "usedRouting": "STANDARD"}
    if acd.outcome == "ANSWERED":
        end["disconnectType"] = "TRANSFER"
    else:
        end["disconnectType"] = "CLIENT" if acd.outcome == "ABANDON" else "TRANSFER"
    return [("acd.start", {**base, "eventTime": acd.start_ms, "routingPriority": 0}), ("acd.end", end)]


def _agent_events(common: dict[str, Any], agent: AgentLeg) -> list[Event]:
    base = {
        **common,
        "participantId": agent.participant_id,
        "sessionId": agent.session_id,
        "userId": agent.user_id,
        "queueId": agent.queue_id,
    }
    events: list[Event] = [
        ("user.start", {**base, "eventTime": agent.start_ms, "divisionId": DIVISION_ID}),
        (
            "user.end",
            {
                **base,
                "eventTime": agent.end_ms,
                "disconnectType": agent.disconnect_type,
                "interactingDurationMs": agent.talk_ms,
                "heldDurationMs": agent.held_ms,
                "alertingDurationMs": agent.alert_ms,
                "contactingDurationMs": 0,
                "dialingDurationMs": 0,
            },
        ),
    ]
    if agent.acw_at_ms is not None:
        events.append(
            (
                "acw",
                {
                    **base,
                    "eventTime": agent.acw_at_ms,
                    "wrapupCode": "0f3c2b1a-0000-4000-8000-00000000c0de",
                    "wrapupDurationMs": agent.wrapup_ms,
                },
            )
        )
    return events


def encode(event: Event, envelope: bool, event_id: str, delivered_ms: int) -> bytes:
    """One event as its JSON line (without the newline).

    The envelope's ``time`` is when EventBridge took the event in (``delivered_ms``, second
    precision), as on a real bus: never before the event happened.
    """
    suffix, body = event
    topic = f"v2.detail.events.conversation.{body['conversationId']}.{suffix}"
    detail = {
        "topicName": topic,
        "version": "2",
        "eventBody": body,
        "metadata": {"CorrelationId": event_id},
        "timestamp": format_instant(body["eventTime"]),
    }
    if not envelope:
        return orjson.dumps(detail)
    return orjson.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": TEMPLATE + suffix,
            "source": f"aws.partner/genesys.com/cloud/{ORG_ID}/streamvane-sim",
            "account": "000000000000",
            "time": format_instant(delivered_ms // 1000 * 1000)[:-5] + "Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
    )


def delivery(spec: SimulationSpec, conversations: list[Conversation]) -> Iterator[tuple[int, bytes]]:
    """``(event time ms, JSON line)`` in delivery order: event time, jittered and duplicated per spec.

    Each copy of an event is delivered at its event time plus its own jitter in ``[0, reorder_ms]``.
    """
    rng = random.Random(spec.seed ^ 0x5EED)
    keyed: list[tuple[int, int, Event]] = []
    seq = 0
    for conversation in conversations:
        for event in conversation_events(conversation):
            at = event[1]["eventTime"]
            copies = 2 if spec.duplicate_rate and rng.random() < spec.duplicate_rate else 1
            for _ in range(copies):
                jitter = rng.randint(0, spec.reorder_ms) if spec.reorder_ms else 0
                keyed.append((at + jitter, seq, event))
            seq += 1
    keyed.sort(key=lambda item: (item[0], item[1]))
    for deliver_at, number, event in keyed:
        yield event[1]["eventTime"], encode(event, spec.envelope, f"sim-{spec.seed}-{number}", deliver_at)
