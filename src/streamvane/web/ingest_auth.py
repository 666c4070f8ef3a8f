"""Who may POST events to ``streamvane ingest``: the forms an EventBridge API destination sends.

- **API key**: a header (``x-api-key`` unless configured) holding one of the configured keys.
- **Basic**: one user and password.
- **OAuth client credentials**: the destination's connection fetches a token from our own token
  endpoint (``POST /oauth/token``, RFC 6749 §4.4, client authentication by HTTP basic or form
  fields) and sends it as a bearer token. Tokens are stateless: an HMAC-SHA256 over the client
  id and expiry with ``token_signing_key``, so any replica behind the Service accepts a token
  another issued.

Every comparison is constant-time (:func:`hmac.compare_digest`). Secrets are resolved from their
references once, when the server starts; they never reach a log line or a response.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IngestCredentials:
    """Resolved secrets (plain text: built at start from secret references, never logged)."""

    api_key_header: str = "x-api-key"
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    basic: tuple[str, str] | None = field(default=None, repr=False)
    clients: Mapping[str, str] = field(default_factory=dict, repr=False)
    signing_key: bytes = field(default=b"", repr=False)
    token_ttl_s: int = 3600

    @property
    def open(self) -> bool:
        """No credential configured at all (refused by the command unless explicitly allowed)."""
        return not (self.api_keys or self.basic or self.clients)


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str
    expires_in: int


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class IngestAuth:
    def __init__(self, credentials: IngestCredentials, clock: Callable[[], float] = time.time) -> None:
        self.credentials, self.clock = credentials, clock

    def caller(self, headers: Mapping[str, str]) -> str | None:
        """The authenticated caller (``api-key``, ``basic:<user>``, ``client:<id>``), or None."""
        c = self.credentials
        key = headers.get(c.api_key_header)
        if key is not None and any([_same(key, k) for k in c.api_keys]):  # every key compared
            return "api-key"
        authorization = headers.get("Authorization", "")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic" and c.basic is not None:
            user, password = _basic_pair(value)
            if user is not None and _same(user, c.basic[0]) & _same(password or "", c.basic[1]):
                return f"basic:{c.basic[0]}"
        if scheme.lower() == "bearer" and c.clients:
            return self._verify(value.strip())
        return None

    def issue(self, form: Mapping[str, str], authorization: str | None) -> Token | None:
        """A token for valid client credentials (basic header or ``client_id``/``client_secret``
        form fields, ``grant_type=client_credentials``); None otherwise."""
        if form.get("grant_type") != "client_credentials":
            return None
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            client_id, secret = _basic_pair(value)
        if client_id is None or secret is None:
            return None
        expected = self.credentials.clients.get(client_id)
        if expected is None or not _same(secret, expected):
            return None
        expires = int(self.clock()) + self.credentials.token_ttl_s
        return Token(self._sign(client_id, expires), self.credentials.token_ttl_s)

    def _sign(self, client_id: str, expires: int) -> str:
        payload = f"{client_id}.{expires}"
        mac = hmac.new(self.credentials.signing_key, payload.encode(), hashlib.sha256).hexdigest()
        return base64.urlsafe_b64encode(f"{payload}.{mac}".encode()).decode().rstrip("=")

    def _verify(self, token: str) -> str | None:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            client_id, expires, _mac = raw.rsplit(".", 2)
            expiry = int(expires)
        except (ValueError, UnicodeDecodeError):
            return None
        expected = self._sign(client_id, expiry)
        if not _same(token, expected) or expiry < self.clock() or client_id not in self.credentials.clients:
            return None
        return f"client:{client_id}"


def _basic_pair(value: str) -> tuple[str | None, str | None]:
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)
