"""Avro encoding of feed records, governed by the versioned schemas in ``streamvane/schemas``.

Records are written with the newest schema as plain Avro binary (no registry framing); the
writer schema's CRC-64-AVRO fingerprint travels beside the bytes (a Kafka header), and
:class:`AvroCodec` decodes any version it ships by looking the fingerprint up — no registry.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict
from importlib import resources
from typing import Any

import fastavro
import orjson
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from streamvane.errors import InputError
from streamvane.records.feed_record import DimensionRow, FeedRecord, MetricStat

FINGERPRINT_HEADER = "streamvane.schema.fingerprint"
_NAME = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<version>\d+)\.avsc$")


class UnknownSchemaError(InputError):
    """A record's fingerprint matches no schema this build ships."""


class AvroCodec:
    """Encoder/decoder for one schema family (``feed_record``), every shipped version known."""

    def __init__(self, family: str = "feed_record") -> None:
        self.by_fingerprint: dict[str, Any] = {}
        versions: list[tuple[int, Any]] = []
        for entry in resources.files("streamvane.schemas").iterdir():
            match = _NAME.match(entry.name)
            if not match or match["name"] != family:
                continue
            parsed = parse_schema(orjson.loads(entry.read_bytes()))
            self.by_fingerprint[_fingerprint(parsed)] = parsed
            versions.append((int(match["version"]), parsed))
        if not versions:
            raise UnknownSchemaError(f"no schema files for {family!r}")
        self.version, self.schema = max(versions, key=lambda item: item[0])
        self.fingerprint: str = _fingerprint(self.schema)

    def encode(self, record: FeedRecord) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self.schema, asdict(record))
        return out.getvalue()

    def decode(self, data: bytes, writer_fingerprint: str) -> FeedRecord:
        writer = self.by_fingerprint.get(writer_fingerprint)
        if writer is None:
            raise UnknownSchemaError(f"unknown schema fingerprint {writer_fingerprint!r}")
        reader = None if writer is self.schema else self.schema  # same schema: no resolution needed
        value = fastavro.schemaless_reader(io.BytesIO(data), writer, reader)
        assert isinstance(value, dict)
        return _record(value)


def _fingerprint(parsed: Any) -> str:
    """CRC-64-AVRO of the schema's Parsing Canonical Form, as 16 hex digits."""
    return str(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


def _record(value: dict[str, Any]) -> FeedRecord:
    rows = tuple(
        DimensionRow(
            row["queue_id"],
            row["media_type"],
            tuple(MetricStat(m["metric"], m["count"], m["sum"], m["min"], m["max"]) for m in row["metrics"]),
        )
        for row in value["rows"]
    )
    return FeedRecord(**{**value, "rows": rows})
