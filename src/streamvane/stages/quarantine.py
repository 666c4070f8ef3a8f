"""What goes to the quarantine topic for a refused input record: its bytes, or a reference.

A quarantined record keeps its original bytes so it can be inspected and re-driven — up to
``max_copy_bytes``. A larger one (the input topic may allow records of several megabytes, more
than the quarantine topic or the producer takes) is quarantined **by reference**: a small JSON
document naming its topic, partition and offset, its size and SHA-256, so copying it can never
fail and take its neighbours down with it. The ``reason``/``detail``/``source`` headers are the
same either way; ``by-reference`` says which form the value has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

DEFAULT_MAX_COPY_BYTES = 512 * 1024

Headers = list[tuple[str, bytes]]


def quarantine_message(
    raw: bytes,
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    max_copy_bytes: int = DEFAULT_MAX_COPY_BYTES,
) -> tuple[bytes, Headers]:
    """The quarantine record's value and headers for ``raw`` read at ``topic/partition/offset``."""
    headers: Headers = [
        ("reason", reason.encode()),
        ("detail", detail.encode()[:1000]),
        ("source", f"{topic}/{partition}/{offset}".encode()),
    ]
    if len(raw) <= max_copy_bytes:
        return raw, [*headers, ("by-reference", b"false")]
    reference = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    return orjson.dumps(reference), [*headers, ("by-reference", b"true")]


def quarantine_event_reference(
    event: Mapping[str, Any], reason: str, detail: str, topic: str, partition: int, offset: int
) -> tuple[bytes, Headers]:
    """For an event refused after parsing (``too-late``): its bytes are no
    longer at hand, so the value names where they are (the event topic keeps its history) and
    carries the parsed fields."""
    headers: Headers = [
        ("reason", reason.encode()),
        ("detail", detail.encode()[:1000]),
        ("source", f"{topic}/{partition}/{offset}".encode()),
        ("by-reference", b"true"),
    ]
    reference = {"topic": topic, "partition": partition, "offset": offset, "event": dict(event)}
    return orjson.dumps(reference), headers
