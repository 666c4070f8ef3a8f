"""Simulated Genesys events fed into the event topic at a chosen pace: what the demo and
``streamvane simulate --to-kafka`` (the compose stack's event source) share.

Pacing is by event time: an event simulated at ``at_ms`` is produced when the wall clock reaches
``Clock.wall_ms(at_ms)``; ``speedup`` simulated milliseconds pass per real millisecond.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.producer import OutputProducer
from streamvane.simulator.contact_center import Conversation
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec


@dataclass
class Clock:
    """Simulated time ↔ wall time (epoch ms): the producer runs ``speedup`` simulated ms per real ms."""

    sim_start_ms: int
    speedup: float
    wall_start_ms: int = 0

    def wall_ms(self, sim_ms: int) -> float:
        return self.wall_start_ms + (sim_ms - self.sim_start_ms) / self.speedup


def produce_paced(
    kafka: KafkaConnection,
    topic: str,
    spec: SimulationSpec,
    conversations: list[Conversation],
    clock: Clock,
    stop: threading.Event,
) -> int:
    """Produce events paced by event time, keyed by conversationId; the number produced."""
    producer = OutputProducer(kafka)
    produced = 0
    for at_ms, line in delivery(spec, conversations):
        if stop.is_set():
            break
        delay = (clock.wall_ms(at_ms) - time.time_ns() / 1e6) / 1000
        if delay > 0:
            producer.poll(0)
            stop.wait(delay)
        key = line[line.find(b'"conversationId":"') + 18 :].split(b'"', 1)[0]
        producer.produce(topic, line, key)
        produced += 1
    producer.flush_or_raise(30)
    return produced
