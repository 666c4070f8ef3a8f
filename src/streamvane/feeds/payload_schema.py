"""Every payload is checked against its contract before it is sent (and by the demo's receiver):
JSON against a JSON Schema generated from the profile, XML against the profile's XSD shipped in
``streamvane/schemas``. A payload that fails is a bug on our side, never something to deliver.
"""

from __future__ import annotations

import csv
import re
from importlib import resources
from typing import Any, Literal

import fastjsonschema
import orjson
from lxml import etree

from streamvane.errors import InputError
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.text_layout import TextLayout

_ISO_LOCAL = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$"
_ISO_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


class PayloadInvalidError(InputError):
    """The rendered bytes break the profile's payload contract."""


def json_schema(profile: FeedProfile) -> dict[str, Any]:
    names = profile.payload.dimension_fields
    row_props: dict[str, Any] = {names.queue_id: {"type": "string"}, names.media_type: {"type": "string"}}
    for key in (names.queue_name, names.queue_key):
        if key:
            row_props[key] = {"type": "string"}
    for spec in profile.fields:
        kind = "integer" if spec.decimals == 0 else "number"
        nullable = spec.may_be_empty and spec.when_empty == "null"
        row_props[spec.name] = {"type": [kind, "null"] if nullable else kind, "description": spec.description}
        if not (spec.ratio is not None and spec.ratio.scale < 0):
            row_props[spec.name]["minimum"] = 0
    dims = len(profile.dimensions)
    rows: dict[str, Any] = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": row_props,
            "required": sorted(row_props),
            "additionalProperties": False,
        },
    }
    if dims:
        rows["minItems"] = rows["maxItems"] = dims
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": f"urn:streamvane:feed:{profile.id}:v{profile.version}:{profile.payload.schema_version}",
        "title": f"{profile.id} v{profile.version} interval payload",
        "type": "object",
        "required": ["schemaVersion", "profile", "revision", "interval", "rows"],
        "additionalProperties": False,
        "properties": {
            "schemaVersion": {"const": profile.payload.schema_version},
            "profile": {
                "type": "object",
                "properties": {"id": {"const": profile.id}, "version": {"const": profile.version}},
                "required": ["id", "version"],
                "additionalProperties": False,
            },
            "revision": {"type": "integer", "minimum": 1},
            "interval": {
                "type": "object",
                "properties": {
                    "start": {"type": "string", "pattern": _ISO_LOCAL},
                    "end": {"type": "string", "pattern": _ISO_LOCAL},
                    "startUtc": {"type": "string", "pattern": _ISO_UTC},
                    "endUtc": {"type": "string", "pattern": _ISO_UTC},
                    "timeZone": {"const": profile.time_zone},
                    "length": {"const": profile.cadence},
                },
                "required": ["start", "end", "startUtc", "endUtc", "timeZone", "length"],
                "additionalProperties": False,
            },
            "rows": rows,
            **({"provisional": _PROVISIONAL} if profile.provisional is not None else {}),
        },
    }


_PROVISIONAL = {
    "type": "object",
    "description": "Present only on a provisional update of an interval still open; the final "
    "has no such member.",
    "properties": {
        "update": {"type": "integer", "minimum": 1},
        "asOf": {"type": "string", "pattern": _ISO_UTC},
    },
    "required": ["update", "asOf"],
    "additionalProperties": False,
}


def load_xsd(name: str) -> etree.XMLSchema:
    entry = resources.files("streamvane.schemas").joinpath(name)
    if not entry.is_file():
        raise FileNotFoundError(f"XSD {name!r} is not shipped in streamvane/schemas")
    return etree.XMLSchema(etree.fromstring(entry.read_bytes(), _safe_parser()))


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def xsd_problems(log: etree._ListErrorLog, xsd: str) -> list[str]:
    """One line per distinct problem, naming the XSD; a problem every row repeats is said once,
    with its first value and how many times it occurred."""
    seen: dict[str, list[str]] = {}
    for error in log:
        message = str(error.message)
        shape = re.sub(r"(value |)'[^']*' (is not|has)", r"\1… \2", message)
        seen.setdefault(shape, []).append(message)
    out = []
    for messages in seen.values():
        times = f" ({len(messages)} times)" if len(messages) > 1 else ""
        out.append(f"{xsd}: {messages[0]}{times}")
    return out


class PayloadValidator:
    """Compiled once per profile; :meth:`check` raises :class:`PayloadInvalidError` with the reasons."""

    def __init__(self, profile: FeedProfile) -> None:
        self.profile = profile
        self._json = (
            fastjsonschema.compile(json_schema(profile)) if profile.payload.format == "json" else None
        )
        xsd = profile.payload.xsd
        self._xsd = load_xsd(xsd) if xsd else None

    def problems(self, body: bytes) -> list[str]:
        if self.profile.payload.text is not None:
            return text_problems(self.profile.payload.format, self.profile.payload.text, body)
        if self._json is not None:
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                return [f"not JSON: {exc}"]
            try:
                self._json(doc)
            except fastjsonschema.JsonSchemaValueException as exc:
                return [f"{exc.name}: {exc.message}"]
            return []
        try:
            tree = etree.fromstring(body, _safe_parser())
        except etree.XMLSyntaxError as exc:
            return [f"not well-formed XML: {exc}"]
        if self._xsd is None or self._xsd.validate(tree):
            return []
        return xsd_problems(self._xsd.error_log, self.profile.payload.xsd or "")

    def check(self, body: bytes) -> None:
        problems = self.problems(body)
        if problems:
            raise PayloadInvalidError(
                f"{self.profile.id}: payload breaks its contract: " + "; ".join(problems[:5])
            )


def text_problems(format_: str, layout: TextLayout, body: bytes) -> list[str]:
    """A CSV or fixed-width body against its layout: the header, and every line's column count
    (CSV) or width (fixed-width), with the line ending the layout names."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"not UTF-8: {exc}"]
    if not text.endswith(layout.newline):
        return [f"the last line does not end with {layout.line_ending}"]
    lines = text[: -len(layout.newline)].split(layout.newline)
    if format_ == "fixed-width":
        width = sum(c.width or 0 for c in layout.columns)
        return [
            f"line {n}: {len(line)} characters, the layout has {width}"
            for n, line in enumerate(lines, 1)
            if len(line) != width
        ][:5]
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_NONE if layout.quoting == "none" else csv.QUOTE_MINIMAL
    reader = csv.reader(
        lines,
        delimiter=layout.delimiter,
        quotechar=layout.quote_char,
        quoting=quoting,
        escapechar="\\" if quoting == csv.QUOTE_NONE else None,
    )
    rows = list(reader)
    problems = [
        f"line {n}: {len(row)} values, the layout has {len(layout.columns)}"
        for n, row in enumerate(rows, 1)
        if len(row) != len(layout.columns)
    ]
    if layout.header and rows and rows[0] != [c.header for c in layout.columns]:
        problems.insert(0, f"header {rows[0]} is not the layout's {[c.header for c in layout.columns]}")
    return problems[:5]
