"""Test harness for the real local Kafka broker started by ``dev/kafka/kafka.sh``.

Tests never mock Kafka: they get the broker's bootstrap address from a session fixture and
create uniquely named topics, so no two tests see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourceType,
)

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "dev" / "kafka" / "kafka.sh"


def default_bootstrap() -> str:
    """The address ``dev/kafka/kafka.sh`` serves (honours STREAMVANE_KAFKA_PORT)."""
    out = subprocess.run([str(KAFKA_SH), "bootstrap"], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def port_open(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def broker_answers(bootstrap: str) -> bool:
    """True when the broker answers a metadata request."""
    if not port_open(bootstrap):
        return False
    try:
        admin(bootstrap).list_topics(timeout=5)
    except KafkaException:
        return False
    return True


@contextmanager
def running_broker() -> Iterator[str]:
    """Use the broker if it is up; start it if not, and then stop it again at the end."""
    bootstrap = default_bootstrap()
    if broker_answers(bootstrap):
        yield bootstrap
        return
    subprocess.run([str(KAFKA_SH), "start"], check=True)
    try:
        yield bootstrap
    finally:
        subprocess.run([str(KAFKA_SH), "stop"], check=False)


def unique_name(prefix: str) -> str:
    return f"test.{prefix}.{uuid.uuid4().hex[:12]}"


def create_topic(
    bootstrap: str, name: str, partitions: int = 1, config: Mapping[str, str] | None = None
) -> str:
    client = admin(bootstrap)  # keep a reference: a collected client fails its futures
    futures = client.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))]
    )
    futures[name].result(timeout=30)
    return name


def delete_topics(bootstrap: str, names: list[str]) -> None:
    if not names:
        return
    client = admin(bootstrap)
    for future in client.delete_topics(names, operation_timeout=30).values():
        with contextlib.suppress(KafkaException):  # already gone: nothing to clean
            future.result(timeout=30)


def topic_config(bootstrap: str, name: str) -> dict[str, str]:
    resource = ConfigResource(ResourceType.TOPIC, name)
    client = admin(bootstrap)
    result = client.describe_configs([resource])[resource].result(timeout=30)
    return {key: entry.value for key, entry in result.items()}


def described_lag(
    bootstrap: str, group: str, command_config: Path | None = None
) -> dict[tuple[str, int], int | None]:
    """(topic, partition) → LAG as the real `kafka-consumer-groups --describe` prints it (None for
    "-": nothing committed where there is something; an empty partition is 0). ``command_config``:
    the client properties of a secured listener."""
    extra = ["--command-config", str(command_config)] if command_config else []
    out = subprocess.run(
        [
            str(KAFKA_SH),
            "consumer-groups",
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--group",
            group,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    lags: dict[tuple[str, int], int | None] = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[0] == group and fields[2].isdigit():
            if fields[5].isdigit():
                lags[(fields[1], int(fields[2]))] = int(fields[5])
            else:
                lags[(fields[1], int(fields[2]))] = 0 if fields[4] == "0" else None
    return lags


@dataclass(frozen=True)
class SecureListener:
    """The dev broker's SASL_SSL listener (``dev/kafka/kafka.sh`` makes its CA, certificate and
    SCRAM user): where it is and the files a client needs."""

    bootstrap: str
    ca_file: Path
    username_file: Path
    password_file: Path
    client_properties: Path

    def env(self, mechanism: str = "SCRAM-SHA-512", password_env: str | None = None) -> dict[str, str]:
        """Settings of a Streamvane process that reaches Kafka only through this listener;
        ``password_env`` names a variable to read the password from instead of the file."""
        password = (
            {"STREAMVANE_KAFKA__SECURITY__SASL_PASSWORD__ENV": password_env}
            if password_env
            else {"STREAMVANE_KAFKA__SECURITY__SASL_PASSWORD__FILE": str(self.password_file)}
        )
        return {
            "STREAMVANE_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "STREAMVANE_KAFKA__SECURITY__PROTOCOL": "SASL_SSL",
            "STREAMVANE_KAFKA__SECURITY__SASL_MECHANISM": mechanism,
            "STREAMVANE_KAFKA__SECURITY__SASL_USERNAME__FILE": str(self.username_file),
            "STREAMVANE_KAFKA__SECURITY__CA_FILE": str(self.ca_file),
            **password,
        }


def secure_listener() -> SecureListener:
    def ask(what: str) -> str:
        return subprocess.run(
            [str(KAFKA_SH), what], check=True, capture_output=True, text=True
        ).stdout.strip()

    properties = Path(ask("client-properties"))
    sasl = properties.parent
    return SecureListener(
        bootstrap=ask("secure-bootstrap"),
        ca_file=sasl.parent / "tls" / "ca.crt",
        username_file=sasl / "username",
        password_file=sasl / "password",
        client_properties=properties,
    )


def consumer_groups(bootstrap: str) -> list[str]:
    """Every consumer group the broker knows, as the real `kafka-consumer-groups --list` prints."""
    out = subprocess.run(
        [str(KAFKA_SH), "consumer-groups", "--bootstrap-server", bootstrap, "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


@dataclass(frozen=True)
class SpareBroker:
    """A second broker of its own (port, data directory), which a test may stop and start again
    without disturbing the session's broker."""

    port: int
    data: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, command: str) -> None:
        env = {**os.environ, "STREAMVANE_KAFKA_PORT": str(self.port), "STREAMVANE_KAFKA_DATA": str(self.data)}
        subprocess.run([str(KAFKA_SH), command], check=True, env=env, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")


@contextmanager
def spare_broker(data: Path, port: int = 39092) -> Iterator[SpareBroker]:
    broker = SpareBroker(port, data)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
