"""The payload contract: format, schema version, field names and the envelope.

One document per interval; the envelope carries the payload schema version, the profile id and
version, the revision, the interval in the profile's zone with an explicit offset and in UTC, and
one row per dimension of the profile's grid (zero rows for quiet queues). Row fields come from the
mapping matrix (:mod:`streamvane.feeds.mapping`); a :data:`DEFAULT_FIELDS` matrix serves profiles
that do not declare one.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streamvane.feeds.mapping import FieldSpec
from streamvane.feeds.text_layout import TextLayout

_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"


class DimensionFieldNames(BaseModel):
    """Names of a row's key fields; ``queue_name``/``queue_key`` come from the profile's dimensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    queue_id: str = Field("queueId", pattern=_NAME)
    queue_name: str | None = Field("queueName", pattern=_NAME)
    queue_key: str | None = Field(None, pattern=_NAME)
    media_type: str = Field("mediaType", pattern=_NAME)


class PayloadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["json", "xml", "csv", "fixed-width"] = "json"
    schema_version: str = Field("1.0", min_length=1, description="Carried in every payload.")
    root: str = Field("QueueIntervalStatistics", pattern=_NAME, description="XML root element name.")
    row: str = Field("Row", pattern=_NAME, description="XML row element name.")
    xsd: str | None = Field(
        None, description="XSD file in streamvane/schemas (XML only); every payload is validated."
    )
    dimension_fields: DimensionFieldNames = Field(default_factory=DimensionFieldNames)
    text: TextLayout | None = Field(
        None, description="csv and fixed-width: the columns and their formatting (feeds/text_layout.py)."
    )

    @property
    def is_text(self) -> bool:
        return self.format in ("csv", "fixed-width")

    @model_validator(mode="after")
    def _xml_only(self) -> Self:
        if self.xsd is not None and self.format != "xml":
            raise ValueError("'xsd' applies to format 'xml' only (JSON payloads get a generated JSON Schema)")
        if self.is_text and self.text is None:
            raise ValueError(f"format {self.format} needs 'text' (its columns)")
        if not self.is_text and self.text is not None:
            raise ValueError("'text' applies to formats csv and fixed-width only")
        return self


DEFAULT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(name="offered", metric="nOffered"),
    FieldSpec(name="answered", metric="tAnswered", stat="count"),
    FieldSpec(name="abandoned", metric="tAbandon", stat="count"),
    FieldSpec(name="handled", metric="tHandle", stat="count"),
    FieldSpec(name="totalHandleSeconds", derived="total_handle", unit="s", decimals=3),
    FieldSpec(name="ahtSeconds", derived="aht", unit="s", decimals=1),
    FieldSpec(name="asaSeconds", derived="asa", unit="s", decimals=1),
    FieldSpec(name="serviceLevelPct", derived="service_level_pct", decimals=2),
)
