"""Where and how a feed is delivered: URL template, method, headers, timeout, TLS and auth.

Only references to secrets appear here (:mod:`streamvane.feeds.secrets`). The URL may use the
placeholders in :data:`URL_PLACEHOLDERS`; they are filled per record by :func:`expand_url`.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streamvane.feeds.secrets import SecretRef

URL_PLACEHOLDERS = frozenset(
    {"profile", "version", "interval_start", "interval_end", "interval_start_ms", "revision"}
)
_RESERVED_HEADERS = frozenset({"authorization", "idempotency-key", "content-type", "content-length", "host"})
# A header whose name has one of these parts carries a credential: its value must be a reference.
_CREDENTIAL_PARTS = ("key", "token", "secret", "password", "passwd", "auth", "signature", "cookie", "session")


class NoAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["none"] = "none"


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: SecretRef


class BearerAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["bearer"]
    token: SecretRef


class OAuth2ClientCredentials(BaseModel):
    """RFC 6749 §4.4: the token is cached until shortly before it expires and refreshed on a 401."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["oauth2"]
    token_url: str
    client_id: str = Field(min_length=1)
    client_secret: SecretRef
    scope: str | None = None
    refresh_margin_s: float = Field(30.0, ge=0, description="Refresh this long before expiry.")

    @field_validator("token_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


Auth = Annotated[NoAuth | BasicAuth | BearerAuth | OAuth2ClientCredentials, Field(discriminator="type")]


class TlsSpec(BaseModel):
    """TLS 1.2 at least (``min_version: "1.3"`` raises it); verification is on unless switched off;
    ``ca_file`` adds a CA; a client cert enables mTLS."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_version: Literal["1.2", "1.3"] = Field(
        "1.2", description="Oldest TLS version accepted; older ones (1.0, 1.1) are never offered."
    )
    verify: bool = True
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key needs client_cert")
        return self


class EndpointSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="http(s) URL; may use {profile} {version} {interval_start} … placeholders.")
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str | SecretRef] = Field(
        default_factory=dict,
        description="Extra headers: a literal value, or a secret reference ({env: NAME} or {file: PATH}); "
        "a header named like a credential (…key, …token, …secret, …auth…) must be a reference.",
    )
    timeout_ms: int = Field(10_000, gt=0, description="Whole-request timeout per attempt.")
    connect_timeout_ms: int = Field(3_000, gt=0)
    max_in_flight: int = Field(4, ge=1, description="Concurrent requests to this endpoint.")
    tls: TlsSpec = Field(default_factory=TlsSpec)
    auth: Auth = Field(default_factory=NoAuth)
    allow_insecure_http: bool = Field(
        False,
        description="Allow a plain http:// URL (and token URL): KPIs and credentials in clear text, for "
        "a local test or demo endpoint only.",
    )

    @model_validator(mode="after")
    def _https_unless_allowed(self) -> Self:
        if self.allow_insecure_http:
            return self
        urls = {"url": self.url}
        if isinstance(self.auth, OAuth2ClientCredentials):
            urls["auth.token_url"] = self.auth.token_url
        plain = [name for name, url in urls.items() if urlsplit(url).scheme == "http"]
        if plain:
            raise ValueError(
                f"{' and '.join(plain)}: plain http:// is refused (the KPIs and credentials would travel "
                "in clear text); use https://, or set allow_insecure_http: true for a local test or demo "
                "endpoint"
            )
        return self

    @field_validator("url")
    @classmethod
    def _template(cls, value: str) -> str:
        names = {field for _, field, _, _ in string.Formatter().parse(value) if field is not None}
        unknown = names - URL_PLACEHOLDERS
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(URL_PLACEHOLDERS)}")
        return _http_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str | SecretRef]) -> dict[str, str | SecretRef]:
        clash = sorted(name for name in value if name.lower() in _RESERVED_HEADERS)
        if clash:
            raise ValueError(f"headers {clash} are set by the dispatcher (use 'auth' for credentials)")
        inline = sorted(
            name
            for name, text in value.items()
            if isinstance(text, str) and any(part in name.lower() for part in _CREDENTIAL_PARTS)
        )
        if inline:
            raise ValueError(
                f"headers {inline} carry credentials: give each as a secret reference, "
                "{env: NAME} or {file: PATH}, never inline"
            )
        return value

    @property
    def literal_headers(self) -> dict[str, str]:
        return {name: text for name, text in self.headers.items() if isinstance(text, str)}

    @property
    def secret_headers(self) -> dict[str, SecretRef]:
        return {name: ref for name, ref in self.headers.items() if isinstance(ref, SecretRef)}

    @property
    def origin(self) -> str:
        """scheme://host:port: the unit of per-endpoint isolation."""
        parts = urlsplit(self.url.split("{", 1)[0])
        return f"{parts.scheme}://{parts.netloc}"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    if parts.username or parts.password:
        raise ValueError("credentials in the URL are refused; use 'auth' with a secret reference")
    return value


def expand_url(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders, percent-encoding each value for a path segment."""
    return template.format(**{name: quote(text, safe="") for name, text in values.items()})
