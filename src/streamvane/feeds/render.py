"""A feed record → the exact bytes a WFM endpoint receives (JSON or XML), pure and deterministic.

The document (:func:`document`) is the format-neutral envelope; :func:`render` serialises it. Rows
follow the profile's ``dimensions`` in their listed order when it has any (so the grid is the
contract, and traffic for unlisted queues stays in the record but not in the payload); otherwise
every row of the record, sorted by queue and media. Interval times are rendered in the profile's
zone with an explicit offset and in UTC (``Z``); the interval is half-open ``[start, end)``.

A renderer applies no KPI settings of its own: the record carries what its computation froze
(the service level under the org's switches) and the fingerprint of those settings. A record
without one is refused (:class:`UnrenderableRecord`), never rendered with today's switches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from lxml import etree

from streamvane.errors import InputError
from streamvane.feeds.mapping import Evaluator, Number, RowContext, compile_field
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.intervals import zone
from streamvane.records.feed_record import FeedRecord

JSON_CONTENT_TYPE = "application/json"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"


class UnrenderableRecord(InputError):
    """A record that cannot be rendered as it was computed."""


@dataclass(frozen=True, slots=True)
class Payload:
    body: bytes
    content_type: str
    rows: int


def local_iso(at_ms: int, time_zone: str) -> str:
    """``2026-11-02T09:00:00+01:00``: wall time in the zone with the offset in force then."""
    return datetime.fromtimestamp(at_ms / 1000, zone(time_zone)).isoformat(timespec="seconds")


def utc_iso(at_ms: int) -> str:
    """``2026-11-02T08:00:00Z`` (whole seconds; interval bounds are whole minutes)."""
    return datetime.fromtimestamp(at_ms // 1000, UTC).isoformat()[:19] + "Z"


class PayloadRenderer:
    """One profile's renderer, with its field evaluators compiled once (the dispatcher keeps one
    per profile; :func:`render` makes a throwaway one)."""

    def __init__(self, profile: FeedProfile) -> None:
        self.profile = profile
        self.fields = [(spec.name, compile_field(spec)) for spec in profile.fields]

    def document(self, record: FeedRecord) -> dict[str, Any]:
        return _document(self.profile, record, self.fields)

    def render(self, record: FeedRecord) -> Payload:
        profile = self.profile
        doc = self.document(record)
        if profile.payload.format == "json":
            return Payload(orjson.dumps(doc), JSON_CONTENT_TYPE, len(doc["rows"]))
        return Payload(_xml(profile, doc), XML_CONTENT_TYPE, len(doc["rows"]))


def render(profile: FeedProfile, record: FeedRecord) -> Payload:
    return PayloadRenderer(profile).render(record)


def _document(
    profile: FeedProfile, record: FeedRecord, fields: list[tuple[str, Evaluator]]
) -> dict[str, Any]:
    if not record.kpi_fingerprint:
        raise UnrenderableRecord(
            f"{record.profile_id} interval {utc_iso(record.interval_start_ms)} revision {record.revision} "
            "was written before records carried their KPI settings (feed record schema v1): rendering "
            "it would apply today's service-level switches to an old computation; recompute the "
            "interval (streamvane replay recompute) to deliver it"
        )
    names = profile.payload.dimension_fields
    by_dim = {
        (row.queue_id, row.media_type): {s.metric: (s.count, s.sum, s.min, s.max) for s in row.metrics}
        for row in record.rows
    }
    if profile.dimensions:
        dims = [(d.queue_id, d.media_type, d.name, d.external_key) for d in profile.dimensions]
    else:
        dims = [(q, media, None, None) for q, media in sorted(by_dim)]
    rows: list[dict[str, Any]] = []
    for queue, media, name, key in dims:
        row: dict[str, Any] = {names.queue_id: queue}
        if names.queue_name:
            row[names.queue_name] = name if name is not None else queue
        if names.queue_key:
            row[names.queue_key] = key if key is not None else queue
        row[names.media_type] = media
        stats = by_dim.get((queue, media), {})
        ctx = RowContext(queue, media)
        for name, evaluate in fields:
            row[name] = evaluate(stats, ctx)
        rows.append(row)
    return {
        "schemaVersion": profile.payload.schema_version,
        "profile": {"id": profile.id, "version": profile.version},
        "revision": record.revision,
        "interval": {
            "start": local_iso(record.interval_start_ms, profile.time_zone),
            "end": local_iso(record.interval_end_ms, profile.time_zone),
            "startUtc": utc_iso(record.interval_start_ms),
            "endUtc": utc_iso(record.interval_end_ms),
            "timeZone": profile.time_zone,
            "length": profile.cadence,
        },
        "rows": rows,
    }


def _xml(profile: FeedProfile, doc: dict[str, Any]) -> bytes:
    spec = profile.payload
    root = etree.Element(
        spec.root,
        schemaVersion=doc["schemaVersion"],
        profile=profile.id,
        profileVersion=str(profile.version),
        revision=str(doc["revision"]),
    )
    etree.SubElement(root, "Interval", {k: str(v) for k, v in doc["interval"].items()})
    decimals = {f.name: f.decimals for f in profile.fields}
    for row in doc["rows"]:
        element = etree.SubElement(root, spec.row)
        for name, value in row.items():
            if name in decimals:
                if value is not None:
                    etree.SubElement(element, name).text = _number(value, decimals[name])
            else:
                element.set(name, str(value))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _number(value: Number, decimals: int) -> str:
    return f"{value:.{decimals}f}" if decimals else str(int(value))
