"""A small local WFM receiver (aiohttp): what the demo delivers to, and a reference for endpoints.

It checks each request the way a strict WFM endpoint would: credentials as the profile's auth
says (the same secret references, resolved here), the payload against the profile's contract
(generated JSON Schema or XSD), and ``Idempotency-Key`` de-duplication (a repeated key is
answered 200 again and counted, not applied twice). It also serves an OAuth2 client-credentials
token endpoint at ``/oauth/token``. Every request is logged as one JSON line (headers and body;
the ``Authorization`` value is replaced by its scheme).
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from aiohttp import web

from streamvane.feeds.endpoint import BasicAuth, BearerAuth, NoAuth, OAuth2ClientCredentials
from streamvane.feeds.payload_schema import PayloadValidator
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.request import PROFILE_HEADER


@dataclass
class ReceiverState:
    profiles: dict[str, FeedProfile]
    validators: dict[str, PayloadValidator]
    log: IO[bytes] | None
    tokens: set[str] = field(default_factory=set)
    seen_keys: dict[str, int] = field(default_factory=dict)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    refused: int = 0


def receiver_app(profiles: Sequence[FeedProfile], log_path: Path | None = None) -> web.Application:
    state = ReceiverState(
        {p.id: p for p in profiles},
        {p.id: PayloadValidator(p) for p in profiles},
        log_path.open("ab") if log_path else None,
    )
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app["state"] = state
    app.router.add_post("/oauth/token", _token)
    app.router.add_get("/healthz", _healthz)
    app.router.add_route("*", "/{tail:.*}", _receive)

    async def close_log(_: web.Application) -> None:
        if state.log is not None:
            state.log.close()

    app.on_cleanup.append(close_log)
    return app


def _expected_client(profiles: dict[str, FeedProfile], client_id: str) -> str | None:
    for profile in profiles.values():
        auth = profile.endpoint.auth if profile.endpoint else None
        if isinstance(auth, OAuth2ClientCredentials) and auth.client_id == client_id:
            return auth.client_secret.resolve().reveal()
    return None


async def _token(request: web.Request) -> web.Response:
    state: ReceiverState = request.app["state"]
    header = request.headers.get("Authorization", "")
    try:
        client_id, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    except ValueError:
        client_id, secret = "", ""
    form = await request.post()
    expected = _expected_client(state.profiles, client_id)
    if (
        expected is None
        or not secrets.compare_digest(secret, expected)
        or form.get("grant_type") != "client_credentials"
    ):
        return web.json_response({"error": "invalid_client"}, status=401)
    token = secrets.token_urlsafe(24)
    state.tokens.add(token)
    return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": 3600})


def _authorized(state: ReceiverState, profile: FeedProfile, header: str) -> bool:
    auth = profile.endpoint.auth if profile.endpoint else NoAuth()
    if isinstance(auth, NoAuth):
        return True
    if isinstance(auth, BasicAuth):
        pair = f"{auth.username}:{auth.password.resolve().reveal()}".encode()
        return secrets.compare_digest(header, "Basic " + base64.b64encode(pair).decode())
    if isinstance(auth, BearerAuth):
        return secrets.compare_digest(header, "Bearer " + auth.token.resolve().reveal())
    return header.startswith("Bearer ") and header.removeprefix("Bearer ") in state.tokens


async def _receive(request: web.Request) -> web.Response:
    state: ReceiverState = request.app["state"]
    body = await request.read()
    profile = state.profiles.get(request.headers.get(PROFILE_HEADER, ""))
    problems: list[str] = []
    status = 200
    key = request.headers.get("Idempotency-Key", "")
    if profile is None:
        status, problems = 404, ["unknown profile"]
    elif not _authorized(state, profile, request.headers.get("Authorization", "")):
        status, problems = 401, ["bad credentials"]
    elif not key:
        status, problems = 400, ["Idempotency-Key missing"]
    else:
        problems = state.validators[profile.id].problems(body)
        status = 400 if problems else 200
    duplicate = status == 200 and key in state.seen_keys
    entry = {
        "receivedMs": time.time_ns() // 1_000_000,
        "method": request.method,
        "path": request.path_qs,
        "headers": {
            str(name): (value.split(" ", 1)[0] + " ***" if name.lower() == "authorization" else value)
            for name, value in request.headers.items()
        },
        "body": body.decode("utf-8", "replace"),
        "status": status,
        "valid": not problems,
        "problems": problems,
        "duplicate": duplicate,
    }
    if state.log is not None:
        state.log.write(orjson.dumps(entry) + b"\n")
        state.log.flush()
    if status != 200:
        state.refused += 1
        return web.json_response({"status": "refused", "problems": problems}, status=status)
    if duplicate:
        state.duplicates += 1
    else:
        state.seen_keys[key] = len(state.accepted)
        state.accepted.append(entry)
    return web.json_response({"status": "accepted", "duplicate": duplicate})


async def _healthz(_: web.Request) -> web.Response:
    """Liveness for a container healthcheck; not a delivery, so not logged."""
    return web.Response(text="ok\n")
