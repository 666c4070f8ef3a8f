"""Ask the brokers once, before a process starts its real work.

Why: a client with a wrong password or an untrusted certificate does not fail; librdkafka and
aiokafka retry the handshake for ever and the process looks alive while it does nothing. A
refusal (authentication, TLS verification, authorization) is a
:class:`~streamvane.errors.ConfigError` at once, with the broker's reason; no answer at all within
the connection's ``connect_timeout_s`` is a :class:`~streamvane.errors.TransientError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from streamvane.broker.connection import KafkaConnection, connect
from streamvane.errors import ConfigError, TransientError
from streamvane.settings import KafkaSettings

_REFUSALS = {
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError._SSL,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
}


class BrokerRefusedError(ConfigError):
    """The brokers answered and refused us (credentials, certificate, permission)."""


class BrokerUnreachableError(TransientError):
    """No broker answered in time."""


def check_brokers(conn: KafkaConnection, clock: Callable[[], float] = time.monotonic) -> int:
    """The number of brokers in the cluster's metadata; raises as the module says."""
    seen: list[KafkaError] = []
    try:
        admin = AdminClient(conn.config(error_cb=seen.append, log_level=0))  # we report, not librdkafka
    except KafkaException as exc:
        raise ConfigError(f"Kafka client settings refused ({conn.describe()}): {_reason(exc)}") from None
    deadline = clock() + conn.connect_timeout_s
    last = "no answer"
    while True:
        try:
            metadata = admin.list_topics(timeout=min(1.0, max(0.1, deadline - clock())))
            return len(metadata.brokers)
        except KafkaException as exc:
            last = _reason(exc)
        admin.poll(0)  # serves error_cb
        refusal = next((e for e in seen if e.code() in _REFUSALS), None)
        if refusal is not None:
            raise BrokerRefusedError(f"Kafka at {conn.describe()} refused the connection: {refusal.str()}")
        if seen:
            last = seen[-1].str()
        if clock() >= deadline:
            raise BrokerUnreachableError(
                f"no Kafka broker answered at {conn.describe()} within {conn.connect_timeout_s:g} s ({last})"
            )


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else str(exc)


def open_kafka(kafka: KafkaSettings) -> KafkaConnection:
    """The connection of a process or tool, checked: what every command starts with."""
    conn = connect(kafka)
    check_brokers(conn)
    return conn
