"""The simulated contact center: arrivals, queues, agents — as facts, not yet as events.

Each queue has its own agent pool (a heap of the times agents become free) and serves callers
first come, first served. A caller waits until an agent is free; if the wait would exceed the
caller's patience they abandon, and if it would exceed the queue's flow-out timer they flow out.
Answered calls alert the agent, then talk, maybe hold, then wrap up; some are transferred to
another queue of the same media, which starts a new ACD session there. Arrival rates follow a
day curve. Everything is drawn from one seeded ``random.Random``: the same spec, the same facts.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from streamvane.simulator.spec import QueueSpec, SimulationSpec

OUTCOME_ANSWERED = "ANSWERED"
OUTCOME_ABANDON = "ABANDON"
OUTCOME_FLOW_OUT = "FLOW_OUT"


class AcdLeg(NamedTuple):
    """One stay in one queue: acd.start at ``start_ms``, acd.end at ``end_ms``."""

    session_id: str
    queue_id: str
    start_ms: int
    end_ms: int
    outcome: str


class AgentLeg(NamedTuple):
    """One agent session: alerted at ``start_ms``, answered, disconnected at ``end_ms``."""

    session_id: str
    participant_id: str
    user_id: str
    queue_id: str
    start_ms: int
    end_ms: int
    alert_ms: int
    talk_ms: int
    held_ms: int
    disconnect_type: str
    acw_at_ms: int | None
    wrapup_ms: int


@dataclass(slots=True)
class Conversation:
    conversation_id: str
    media_type: str
    customer_session_id: str
    customer_participant_id: str
    arrival_ms: int
    ivr_ms: int
    acd: list[AcdLeg] = field(default_factory=list)
    agents: list[AgentLeg] = field(default_factory=list)
    end_ms: int = 0


@dataclass(slots=True)
class _Queue:
    spec: QueueSpec
    queue_id: str
    free_at: list[tuple[int, int]]  # heap of (free at ms, agent index)
    agent_ids: list[str]


class _Entry(NamedTuple):
    at_ms: int
    seq: int
    conversation: Conversation
    queue_index: int
    patience_ms: int


_QUEUE_NAMESPACE = uuid.UUID("6f1c9a52-4d0e-4b8e-9a5e-7f3d2c1b0a99")


def queue_id(name: str) -> str:
    """A simulated queue's id: a UUID derived from its name, stable across seeds and runs, so
    configuration (service levels, feed profiles) can name it."""
    return str(uuid.uuid5(_QUEUE_NAMESPACE, name))


def queue_directory(spec: SimulationSpec) -> dict[str, QueueSpec]:
    """queueId → the queue's spec, for display names."""
    return {queue_id(q.name): q for q in spec.queues}


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def day_curve(at_ms: int) -> float:
    """Relative arrival rate by UTC hour: low at night, peaks late morning and mid-afternoon."""
    hour = (at_ms / 3_600_000) % 24
    return 0.35 + 0.65 * math.exp(-((hour - 10.5) ** 2) / 8) + 0.45 * math.exp(-((hour - 15) ** 2) / 6)


def simulate(spec: SimulationSpec, progress: Callable[[int, int], None] | None = None) -> list[Conversation]:
    """Every conversation of the simulated period, finished ones and those cut off at the end."""
    rng = random.Random(spec.seed)
    total_share = sum(q.share for q in spec.queues)
    queues: list[_Queue] = []
    for q in spec.queues:
        n_agents = max(1, round(spec.agents * q.share / total_share))
        ids = [_uuid(rng) for _ in range(n_agents)]
        queues.append(_Queue(q, queue_id(q.name), [(spec.start_ms, i) for i in range(n_agents)], ids))
    mean_handle = spec.mean_talk_ms + spec.mean_wrapup_ms + 4_000
    entries: list[_Entry] = []
    seq = 0
    for index, queue in enumerate(queues):
        peak_rate_per_ms = spec.occupancy * len(queue.agent_ids) / mean_handle / 1.1
        at = spec.start_ms
        while True:
            at += round(rng.expovariate(peak_rate_per_ms))
            if at >= spec.end_ms:
                break
            if rng.random() > day_curve(at):
                continue
            conversation = _new_conversation(rng, queue.spec.media_type, at)
            patience = _patience(rng, spec)
            entries.append(_Entry(at + conversation.ivr_ms, seq, conversation, index, patience))
            seq += 1
    heapq.heapify(entries)
    conversations: list[Conversation] = []
    done = 0
    expected = max(1, len(entries))
    while entries:
        entry = heapq.heappop(entries)
        transfer = _serve(rng, spec, queues, entry)
        if transfer is not None:
            transfer = transfer._replace(seq=seq)
            seq += 1
            heapq.heappush(entries, transfer)
            continue
        conversations.append(entry.conversation)
        done += 1
        if progress is not None and done % 5000 == 0:
            progress(done, expected)
    conversations.sort(key=lambda c: (c.arrival_ms, c.conversation_id))
    return conversations


def _new_conversation(rng: random.Random, media: str, at_ms: int) -> Conversation:
    return Conversation(
        conversation_id=_uuid(rng),
        media_type=media,
        customer_session_id=_uuid(rng),
        customer_participant_id=_uuid(rng),
        arrival_ms=at_ms,
        ivr_ms=rng.randint(5_000, 40_000) if media == "voice" else rng.randint(500, 3_000),
    )


def _patience(rng: random.Random, spec: SimulationSpec) -> int:
    if rng.random() < spec.short_patience_probability:
        return rng.randint(1_000, 9_999)
    return 10_000 + round(rng.expovariate(1 / spec.mean_patience_ms))


def _serve(rng: random.Random, spec: SimulationSpec, queues: list[_Queue], entry: _Entry) -> _Entry | None:
    """Place one caller in its queue; returns the follow-on entry when the agent transfers."""
    q = queues[entry.queue_index]
    conversation = entry.conversation
    free_at, agent = q.free_at[0]
    alert = rng.randint(2_000, 8_000)
    answer = max(entry.at_ms, free_at) + alert
    wait = answer - entry.at_ms
    flow_out_after = q.spec.flow_out_after_ms
    acd_session = _uuid(rng)
    if wait > entry.patience_ms or (flow_out_after is not None and wait > flow_out_after):
        if flow_out_after is not None and flow_out_after < entry.patience_ms:
            end, outcome = entry.at_ms + flow_out_after, OUTCOME_FLOW_OUT
        else:
            end, outcome = entry.at_ms + entry.patience_ms, OUTCOME_ABANDON
        conversation.acd.append(AcdLeg(acd_session, q.queue_id, entry.at_ms, end, outcome))
        conversation.end_ms = end + (rng.randint(0, 30_000) if outcome == OUTCOME_FLOW_OUT else 0)
        return None
    conversation.acd.append(AcdLeg(acd_session, q.queue_id, entry.at_ms, answer, OUTCOME_ANSWERED))
    talk = max(5_000, round(rng.lognormvariate(math.log(spec.mean_talk_ms) - 0.18, 0.6)))
    held = rng.randint(5_000, 90_000) if rng.random() < spec.hold_probability else 0
    end = answer + talk + held
    transfer_to = _transfer_target(rng, spec, queues, entry.queue_index)
    wrapup = max(1_000, round(rng.expovariate(1 / spec.mean_wrapup_ms))) if spec.mean_wrapup_ms else 0
    wrapup = min(wrapup, 600_000)
    acw_at = None if rng.random() < spec.no_acw_probability else end + wrapup
    conversation.agents.append(
        AgentLeg(
            session_id=_uuid(rng),
            participant_id=_uuid(rng),
            user_id=q.agent_ids[agent],
            queue_id=q.queue_id,
            start_ms=answer - alert,
            end_ms=end,
            alert_ms=alert,
            talk_ms=talk,
            held_ms=held,
            disconnect_type="TRANSFER"
            if transfer_to is not None
            else rng.choice(("CLIENT", "PEER", "ENDPOINT")),
            acw_at_ms=acw_at,
            wrapup_ms=wrapup if acw_at is not None else 0,
        )
    )
    heapq.heapreplace(q.free_at, ((acw_at or end) + rng.randint(0, 5_000), agent))
    conversation.end_ms = end
    if transfer_to is None:
        return None
    remaining = max(10_000, entry.patience_ms - wait)
    return _Entry(end, 0, conversation, transfer_to, remaining)


def _transfer_target(
    rng: random.Random, spec: SimulationSpec, queues: list[_Queue], current: int
) -> int | None:
    if rng.random() >= spec.transfer_probability:
        return None
    media = queues[current].spec.media_type
    options = [i for i, q in enumerate(queues) if i != current and q.spec.media_type == media]
    return rng.choice(options) if options else None


def iter_legs(conversations: list[Conversation]) -> Iterator[tuple[Conversation, AcdLeg | AgentLeg]]:
    for conversation in conversations:
        for leg in conversation.acd:
            yield conversation, leg
        for agent_leg in conversation.agents:
            yield conversation, agent_leg
