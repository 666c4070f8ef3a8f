"""Shared fixtures: the real local Kafka broker and per-test unique topics."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest

from tests.support import kafka


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a real broker: the running one, or one this session starts and stops."""
    with kafka.running_broker() as bootstrap:
        yield bootstrap


TopicFactory = Callable[..., str]


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Iterator[TopicFactory]:
    """Create uniquely named topics for one test; they are deleted when the test ends."""
    made: list[str] = []

    def make(prefix: str, partitions: int = 1, config: Mapping[str, str] | None = None) -> str:
        name = kafka.create_topic(kafka_bootstrap, kafka.unique_name(prefix), partitions, config)
        made.append(name)
        return name

    yield make
    kafka.delete_topics(kafka_bootstrap, made)
