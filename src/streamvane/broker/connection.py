"""One Kafka connection, resolved once, mapped onto every client library Streamvane uses.

:func:`connect` reads the security settings' secret references and checks the files they name
(a missing CA or key is a :class:`~streamvane.errors.ConfigError` naming the file, at start, not
a handshake failure later). :meth:`KafkaConnection.config` gives confluent-kafka's (librdkafka's)
properties for producers, consumers and the admin client; :meth:`KafkaConnection.ssl_context`
gives the context Faust's aiokafka clients use. Both come from the same settings, so the worker,
the dispatcher and every tool reach the brokers the same way.

Secrets stay inside: ``repr`` and :meth:`describe` show protocol, mechanism and brokers only.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from streamvane.errors import ConfigError
from streamvane.settings import KafkaSecuritySettings, KafkaSettings

TLS_MINIMUM = ssl.TLSVersion.TLSv1_2


@dataclass(frozen=True, repr=False)
class KafkaConnection:
    """Brokers plus resolved credentials; build with :func:`connect` (or :meth:`plaintext`)."""

    bootstrap: str
    security: KafkaSecuritySettings = field(default_factory=KafkaSecuritySettings)
    sasl_username: str | None = None
    _sasl_password: str | None = None
    _key_password: str | None = None
    _oauth_secret: str | None = None
    connect_timeout_s: float = 10.0

    @classmethod
    def plaintext(cls, bootstrap: str) -> KafkaConnection:
        return cls(bootstrap)

    def describe(self) -> str:
        """``SASL_SSL/SCRAM-SHA-512 127.0.0.1:19094`` (no secrets)."""
        mechanism = f"/{self.security.sasl_mechanism}" if self.security.sasl_mechanism else ""
        return f"{self.security.protocol}{mechanism} {self.bootstrap}"

    def __repr__(self) -> str:
        return f"KafkaConnection({self.describe()})"

    def config(self, **extra: Any) -> dict[str, Any]:
        """librdkafka properties: the brokers, the security ones, then ``extra`` (client knobs);
        keys with dots are passed as ``**{"group.id": ...}``."""
        sec = self.security
        props: dict[str, Any] = {"bootstrap.servers": self.bootstrap}
        if sec.protocol != "PLAINTEXT":
            props["security.protocol"] = sec.protocol.lower()
        if sec.uses_tls:
            props["ssl.endpoint.identification.algorithm"] = "https" if sec.check_hostname else "none"
            if sec.ca_file is not None:
                props["ssl.ca.location"] = str(sec.ca_file)
            if sec.cert_file is not None and sec.key_file is not None:
                props["ssl.certificate.location"] = str(sec.cert_file)
                props["ssl.key.location"] = str(sec.key_file)
                if self._key_password is not None:
                    props["ssl.key.password"] = self._key_password
        if sec.sasl_mechanism is not None:
            props["sasl.mechanism"] = sec.sasl_mechanism
        if sec.sasl_mechanism == "OAUTHBEARER" and sec.oauth is not None:
            props["sasl.oauthbearer.method"] = "oidc"
            props["sasl.oauthbearer.client.id"] = sec.oauth.client_id
            props["sasl.oauthbearer.client.secret"] = self._oauth_secret
            props["sasl.oauthbearer.token.endpoint.url"] = sec.oauth.token_url
            if sec.oauth.scope:
                props["sasl.oauthbearer.scope"] = sec.oauth.scope
        elif sec.sasl_mechanism is not None:
            props["sasl.username"] = self.sasl_username
            props["sasl.password"] = self._sasl_password
        props.update(extra)
        return props

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of the aiokafka (Faust) clients; None without TLS. TLS 1.2 at least."""
        sec = self.security
        if not sec.uses_tls:
            return None
        context = ssl.create_default_context(cafile=str(sec.ca_file) if sec.ca_file else None)
        context.minimum_version = TLS_MINIMUM
        context.check_hostname = sec.check_hostname
        if sec.cert_file is not None and sec.key_file is not None:
            context.load_cert_chain(str(sec.cert_file), str(sec.key_file), password=self._key_password)
        return context

    @property
    def sasl_password(self) -> str | None:
        return self._sasl_password


def connect(kafka: KafkaSettings) -> KafkaConnection:
    """Resolve ``kafka``'s secret references and check the files it names (no network yet:
    :func:`streamvane.broker.preflight.check_brokers` asks the brokers)."""
    sec = kafka.security
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(sec, name)
        if path is not None and not path.is_file():
            raise ConfigError(f"kafka.security.{name}: {path} does not exist or is not a file")
    conn = KafkaConnection(
        bootstrap=kafka.bootstrap_servers,
        security=sec,
        sasl_username=sec.sasl_username.resolve().reveal() if sec.sasl_username else None,
        _sasl_password=sec.sasl_password.resolve().reveal() if sec.sasl_password else None,
        _key_password=sec.key_password.resolve().reveal() if sec.key_password else None,
        _oauth_secret=sec.oauth.client_secret.resolve().reveal() if sec.oauth else None,
        connect_timeout_s=kafka.connect_timeout_s,
    )
    try:
        conn.ssl_context()
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"kafka.security: the CA, certificate or key cannot be loaded ({exc})") from None
    return conn
