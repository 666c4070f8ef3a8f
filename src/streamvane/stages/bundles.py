"""Bundles: what ingest writes into a keyed partition, and correlate reads, instead of one record
per event.

Why: Faust pays about 80 µs of CPU per Kafka record before an agent sees it
(``shared/docs/throughput-notes.md``); a bundle of a few thousand events pays it once. A bundle
carries the *parsed* events, so correlate never parses an event again, plus each event's source
position (input partition, offset) for a quarantine reference, and the batch's watermark marker
(:mod:`streamvane.stages.markers`) — it is the last thing in the bundle, so a keyed partition that
meets it has seen every event it promises.

Encoding: one orjson document ``{"v": 1, "marker": …|null, "events": [row, …]}``; a row is the
:class:`~streamvane.genesys.events.ConversationEvent` fields in order (the kind by its topic
suffix), then the source partition and offset. Rows are encoded one by one, so a bundle is cut
exactly at ``max_bytes`` without encoding it twice.

A conversation's keyed partition is ``crc32(conversationId) mod partitions``: the same in every
process and every replay, which is all that matters (the keyed topic is internal).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from streamvane.errors import InputError
from streamvane.genesys.events import KIND_BY_SUFFIX, ConversationEvent
from streamvane.stages.markers import Marker

BUNDLE_VERSION = 1
DEFAULT_MAX_BUNDLE_BYTES = 512 * 1024
_FIELDS = len(ConversationEvent._fields)
_HEAD = b'{"v":1,"events":['


def keyed_partition(conversation_id: str, partitions: int) -> int:
    """The keyed partition that holds every event of ``conversation_id``."""
    return zlib.crc32(conversation_id.encode()) % partitions


class Source(NamedTuple):
    """Where an event was read: its input partition and offset."""

    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Bundle:
    """Events of one keyed partition (in input order), then optionally a watermark marker."""

    events: Sequence[ConversationEvent]
    sources: Sequence[Source]
    marker: Marker | None = None


class BundleError(InputError):
    """A keyed-topic record that is not a bundle this version can read."""


def encode_row(event: ConversationEvent, source: Source) -> bytes:
    return orjson.dumps((*event, *source))


def encode_rows(rows: Sequence[bytes], marker: Marker | None) -> bytes:
    """A bundle from rows already encoded by :func:`encode_row`."""
    tail = b"]}" if marker is None else b'],"marker":' + marker.encode() + b"}"
    return _HEAD + b",".join(rows) + tail


def encode(bundle: Bundle) -> bytes:
    return encode_rows(
        [encode_row(e, s) for e, s in zip(bundle.events, bundle.sources, strict=True)], bundle.marker
    )


def decode(raw: bytes) -> Bundle:
    try:
        doc: Any = orjson.loads(raw)
        if doc.get("v") != BUNDLE_VERSION:
            raise BundleError(f"bundle version {doc.get('v')!r}, this worker reads {BUNDLE_VERSION}")
        events, sources = [], []
        kinds = KIND_BY_SUFFIX
        for row in doc["events"]:
            events.append(ConversationEvent(kinds[row[0]], *row[1:_FIELDS]))
            sources.append(Source(row[_FIELDS], row[_FIELDS + 1]))
        raw_marker = doc.get("marker")
        marker = None if raw_marker is None else Marker.from_doc(raw_marker)
    except (orjson.JSONDecodeError, AttributeError, KeyError, IndexError, TypeError) as exc:
        raise BundleError(f"not a bundle: {exc!r}") from exc
    return Bundle(events, sources, marker)


@dataclass(slots=True)
class Bundler:
    """Collects one ingest batch's events per keyed partition into bundles of at most
    ``max_bytes`` (one event larger than that still gets a bundle of its own)."""

    partitions: int
    max_bytes: int = DEFAULT_MAX_BUNDLE_BYTES
    _open: dict[int, list[bytes]] = field(default_factory=dict)
    _sizes: dict[int, int] = field(default_factory=dict)
    _done: list[tuple[int, bytes]] = field(default_factory=list)

    def add(self, event: ConversationEvent, source: Source) -> int:
        """Queue ``event``; returns its keyed partition."""
        partition = keyed_partition(event.conversation_id, self.partitions)
        row = encode_row(event, source)
        rows = self._open.setdefault(partition, [])
        size = self._sizes.get(partition, len(_HEAD) + 2)
        if rows and size + len(row) + 1 > self.max_bytes:
            self._done.append((partition, encode_rows(rows, None)))
            rows.clear()
            size = len(_HEAD) + 2
        rows.append(row)
        self._sizes[partition] = size + len(row) + 1
        return partition

    def finish(self, marker: Marker | None) -> list[tuple[int, bytes]]:
        """Every bundle of the batch as (keyed partition, bytes); with a marker, each keyed
        partition's last bundle carries it (a partition without events gets a marker-only one)."""
        done = self._done
        targets = range(self.partitions) if marker is not None else sorted(self._open)
        for partition in targets:
            rows = self._open.get(partition, [])
            if rows or marker is not None:
                done.append((partition, encode_rows(rows, marker)))
        self._open, self._sizes, self._done = {}, {}, []
        return done
