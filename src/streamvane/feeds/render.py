"""A feed record → the exact bytes a WFM endpoint receives (JSON or XML), pure and deterministic.

The document (:func:`document`) is the format-neutral envelope; :func:`render` serialises it. Rows
follow the profile's ``dimensions`` in their listed order when it has any (so the grid is the
contract, and traffic for unlisted queues stays in the record but not in the payload); otherwise
every row of the record, sorted by queue and media. Interval times are rendered in the profile's
zone with an explicit offset and in UTC (``Z``); the interval is half-open ``[start, end)``.

A provisional update (record ``provisional`` k >= 1) renders the same document plus a
``provisional`` member (JSON: ``{"update": k, "asOf": "<UTC>"}``) or ``provisionalUpdate`` and
``provisionalAsOf`` attributes on the root (XML); a final renders exactly as it would without
provisional updates.

A renderer applies no KPI settings of its own: the record carries what its computation froze
(the service level under the org's switches) and the fingerprint of those settings. A record
without one is refused (:class:`UnrenderableRecord`), never rendered with today's switches.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from lxml import etree

from streamvane.errors import InputError
from streamvane.feeds.mapping import Evaluator, Number, RowContext, compile_field
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.text_layout import LITERAL, TextLayout
from streamvane.kpi.intervals import zone
from streamvane.records.feed_record import FeedRecord

JSON_CONTENT_TYPE = "application/json"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"
TEXT_CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "fixed-width": "text/plain; charset=utf-8"}


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
        if profile.payload.is_text:
            if record.provisional:
                raise UnrenderableRecord(
                    f"profile {profile.id}: a {profile.payload.format} payload cannot mark "
                    "a provisional update"
                )
            return Payload(self.text([record]), TEXT_CONTENT_TYPES[profile.payload.format], len(doc["rows"]))
        return Payload(_xml(profile, doc), XML_CONTENT_TYPE, len(doc["rows"]))

    def text(self, records: Sequence[FeedRecord]) -> bytes:
        """A CSV or fixed-width file of ``records`` (one header, then each record's rows in the
        order given): one interval's payload, or a day's file for a legacy import."""
        layout = self.profile.payload.text
        if layout is None:
            raise UnrenderableRecord(f"profile {self.profile.id} has no text layout")
        return _text(self.profile, layout, [(r, self.document(r)) for r in records])


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
    doc = {
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
    if record.provisional:
        doc["provisional"] = {"update": record.provisional, "asOf": utc_iso(record.watermark_ms)}
    return doc


def _xml(profile: FeedProfile, doc: dict[str, Any]) -> bytes:
    spec = profile.payload
    root = etree.Element(
        spec.root,
        schemaVersion=doc["schemaVersion"],
        profile=profile.id,
        profileVersion=str(profile.version),
        revision=str(doc["revision"]),
    )
    if "provisional" in doc:
        root.set("provisionalUpdate", str(doc["provisional"]["update"]))
        root.set("provisionalAsOf", doc["provisional"]["asOf"])
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


def _text(profile: FeedProfile, layout: TextLayout, items: list[tuple[FeedRecord, dict[str, Any]]]) -> bytes:
    decimals = {f.name: f.decimals for f in profile.fields}
    names = profile.payload.dimension_fields
    labels = {(d.queue_id, d.media_type): (d.name, d.external_key) for d in profile.dimensions}
    local, utc = zone(profile.time_zone), UTC
    lines: list[list[tuple[str, bool]]] = []  # per line, per column: (text, is a number)
    if layout.header:
        lines.append([(c.header, False) for c in layout.columns])
    for record, doc in items:
        interval = {
            "interval_start": datetime.fromtimestamp(record.interval_start_ms / 1000, local),
            "interval_end": datetime.fromtimestamp(record.interval_end_ms / 1000, local),
            "interval_start_utc": datetime.fromtimestamp(record.interval_start_ms / 1000, utc),
            "interval_end_utc": datetime.fromtimestamp(record.interval_end_ms / 1000, utc),
        }
        constants = {
            "revision": str(record.revision),
            "profile_id": profile.id,
            "schema_version": doc["schemaVersion"],
        }
        for row in doc["rows"]:
            queue, media = str(row[names.queue_id]), str(row[names.media_type])
            name, key = labels.get((queue, media), (None, None))
            dimension = {
                "queue_id": queue,
                "media_type": media,
                "queue_name": name or queue,
                "queue_key": key or queue,
            }
            line = []
            for column in layout.columns:
                value, number = _cell(column.value, row, decimals, dimension, interval, constants, layout)
                line.append((column.map.get(value, value), number))
            lines.append(line)
    if profile.payload.format == "csv":
        return _csv_lines(layout, lines)
    return _fixed_lines(profile, layout, lines)


def _cell(
    source: str,
    row: dict[str, Any],
    decimals: dict[str, int],
    dimension: dict[str, str],
    interval: dict[str, datetime],
    constants: dict[str, str],
    layout: TextLayout,
) -> tuple[str, bool]:
    if source.startswith(LITERAL):
        return source[len(LITERAL) :], False
    if source in decimals:
        value = row.get(source)
        if value is None:
            return layout.empty, True
        return _number(value, decimals[source]).replace(".", layout.decimal_separator), True
    if source in interval:
        return interval[source].strftime(layout.time_format), False
    if source in constants:
        return constants[source], False
    return dimension.get(source, layout.empty), False


def _csv_lines(layout: TextLayout, lines: list[list[tuple[str, bool]]]) -> bytes:
    out = io.StringIO()
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_MINIMAL
    if layout.quoting == "all":
        quoting = csv.QUOTE_ALL
    elif layout.quoting == "none":
        quoting = csv.QUOTE_NONE
    writer = csv.writer(
        out,
        delimiter=layout.delimiter,
        quotechar=layout.quote_char,
        quoting=quoting,
        lineterminator=layout.newline,
        escapechar="\\" if quoting == csv.QUOTE_NONE else None,
    )
    for line in lines:
        writer.writerow([text for text, _ in line])
    return out.getvalue().encode("utf-8")


def _fixed_lines(profile: FeedProfile, layout: TextLayout, lines: list[list[tuple[str, bool]]]) -> bytes:
    out = []
    for line in lines:
        cells = []
        for column, (text, number) in zip(layout.columns, line, strict=True):
            width = column.width or len(text)
            if len(text) > width:
                if number:
                    raise UnrenderableRecord(
                        f"profile {profile.id}: {text} does not fit column {column.header!r} ({width} wide)"
                    )
                text = text[:width]
            right = column.align == "right" or (column.align is None and number)
            pad = column.pad or layout.pad
            cells.append(text.rjust(width, pad) if right else text.ljust(width, pad))
        out.append("".join(cells))
    return "".join(line + layout.newline for line in out).encode("utf-8")
