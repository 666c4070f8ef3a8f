"""Environment overlays: one base profile directory, and per environment (``env/dev``,
``env/test``, ``env/prod``) small files that change only where and when a feed is delivered.

An overlay names the profile it changes (``id``) and may set only :data:`OVERRIDABLE`: the
endpoint (URL, headers, auth and its secret references, TLS, timeouts), the retry policy, and the
schedule (``grace_ms``, ``delivery_deadline_ms``, ``provisional``). Everything else — fields,
dimensions, payload, cadence, zone, version, horizons — is the contract, and stays the base's,
so a feed proven in test is, by construction, the same contract in production. Mappings merge
key by key, except an ``auth`` block and a secret reference, which replace the base's whole; any
other value replaces the base's.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from streamvane.errors import ConfigError

ENV_DIR = "env"
OVERRIDABLE = frozenset({"endpoint", "retry", "grace_ms", "delivery_deadline_ms", "provisional"})
REPLACED_WHOLE = frozenset({"auth"})  # one credential: never half the base's, half the overlay's


class OverlayError(ConfigError):
    """An overlay that reaches into the contract."""


def apply_overlay(base: dict[str, Any], overlay: dict[str, Any], source: str) -> dict[str, Any]:
    """``base`` with ``overlay`` (read from ``source``) merged in."""
    contract = sorted(set(overlay) - OVERRIDABLE - {"id"})
    if contract:
        raise OverlayError(
            f"{source}: an overlay may change only {', '.join(sorted(OVERRIDABLE))}; "
            f"{', '.join(contract)} belong to the contract (the base profile)"
        )
    return _merge(base, {k: v for k, v in overlay.items() if k != "id"})


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        whole = key in REPLACED_WHOLE or _is_secret_reference(value)
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not whole:
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _is_secret_reference(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= {"env", "file"}


def contract_of(profile: dict[str, Any]) -> dict[str, Any]:
    """What an overlay cannot change: the profile without its delivery settings."""
    return {k: v for k, v in profile.items() if k not in OVERRIDABLE}


def contract_fingerprint(profile: dict[str, Any]) -> str:
    """SHA-256 (16 hex digits) of the contract part of a profile's JSON form."""
    canonical = json.dumps(contract_of(profile), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def differences(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted path, a's value, b's value) wherever two JSON-like values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(a) | set(b)):
            out += differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if a == b else [(path, a, b)]
