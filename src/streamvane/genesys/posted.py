"""A POSTed body as the events it carries: what an EventBridge API destination (one event per
request) or a forwarder (a JSON array, or NDJSON) sends to ``streamvane ingest``.

Each event comes out as its own JSON bytes, for the same parser the worker uses to judge: this
module only finds where one event ends and the next begins. A body that is none of the three
forms is refused whole (:class:`PostedBodyError`); an element or line that is not an event is
passed on, and the parser rejects it with its own reason, so one bad event in a batch does not
refuse the others.

Nesting deeper than orjson's limit (1,024 levels) is refused as ``too-deep`` without recursion
in Python: orjson stops at that depth itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from streamvane.errors import InputError

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines"})


class PostedBodyError(InputError):
    """The body as a whole is unusable; ``reason`` is a short code for the response and metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True, slots=True)
class PostedEvents:
    """The events of one body, in order; ``form`` names how it was read (``object``, ``array``,
    ``ndjson``)."""

    events: list[bytes]
    form: str


def split_events(body: bytes, content_type: str = "application/json") -> PostedEvents:
    """The events of ``body``: one JSON object, a JSON array of them, or NDJSON (by content type,
    or when the body is not one JSON document but its lines are)."""
    if not body.strip():
        raise PostedBodyError("empty", "the body holds no event")
    if content_type.split(";", 1)[0].strip().lower() in NDJSON_TYPES:
        return PostedEvents(_lines(body), "ndjson")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise PostedBodyError("too-deep", "JSON nested deeper than 1024 levels") from None
        if b"\n" in body.strip():
            return PostedEvents(_lines(body), "ndjson")
        raise PostedBodyError("not-json", str(exc)) from None
    if isinstance(doc, dict):
        return PostedEvents([body], "object")
    if isinstance(doc, list):
        if not doc:
            raise PostedBodyError("empty", "the array holds no event")
        return PostedEvents([orjson.dumps(element) for element in doc], "array")
    raise PostedBodyError("not-events", f"a JSON {type(doc).__name__}, not an event or an array of them")


def _lines(body: bytes) -> list[bytes]:
    lines = [line.strip() for line in body.split(b"\n")]
    events = [line for line in lines if line]
    if not events:
        raise PostedBodyError("empty", "the body holds no event")
    return events
