"""Legacy text payloads for migrations: CSV and fixed-width lines from a declarative layout.

A layout lists its columns in order. Each column takes its value from one of three sources:
- a field of the profile's mapping matrix, formatted with the field's decimals and the layout's
  decimal separator;
- a token: :data:`TOKENS`, the row's dimension or the interval, with interval times formatted by
  ``time_format`` in the profile's zone, or in UTC for the ``_utc`` tokens;
- ``literal:<text>``.

A column's ``map`` renames values, e.g. ``voice`` → ``Voice``.

- **CSV** follows the layout's delimiter, quoting (``minimal``, ``all`` or ``none``), header row
  and line ending.
- **Fixed-width** pads each value to its column's ``width``: numbers on the right, text on the
  left, unless ``align`` says otherwise. Text longer than the width is cut. A number longer than
  the width is refused (:class:`~streamvane.feeds.render.UnrenderableRecord`), since a cut number
  would be a wrong number.

An empty value (a KPI without data, ``when_empty: null``) prints as ``empty``. A file of several
intervals has one header, then each interval's rows in order, so a day in a zone that changes
its clocks has 92 or 100 quarter hours of rows.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

TOKENS = frozenset(
    {
        "queue_id",
        "queue_name",
        "queue_key",
        "media_type",
        "interval_start",
        "interval_end",
        "interval_start_utc",
        "interval_end_utc",
        "revision",
        "profile_id",
        "schema_version",
    }
)
LITERAL = "literal:"


class TextColumn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str = Field(description="The column's name in the header row.")
    value: str = Field(description="A field of the profile, a token, or literal:<text>.")
    width: int | None = Field(None, ge=1, description="Fixed-width: the column's width in characters.")
    align: Literal["left", "right"] | None = Field(None, description="Fixed-width: numbers right, text left.")
    map: dict[str, str] = Field(default_factory=dict, description="Values renamed, e.g. {voice: Voice}.")
    pad: str | None = Field(
        None, min_length=1, max_length=1, description="Fixed-width: overrides the layout's pad."
    )


class TextLayout(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: tuple[TextColumn, ...] = Field(min_length=1)
    header: bool = Field(True, description="Start with a header row.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV: the field separator.")
    quoting: Literal["minimal", "all", "none"] = Field("minimal", description="CSV: which values are quoted.")
    quote_char: str = Field('"', min_length=1, max_length=1)
    decimal_separator: Literal[".", ","] = "."
    line_ending: Literal["lf", "crlf"] = "crlf"
    time_format: str = Field(
        "%Y-%m-%dT%H:%M:%SZ", description="strftime format of the interval tokens (in the zone, or UTC)."
    )
    empty: str = Field("", description="What a value without data prints as.")
    pad: str = Field(" ", min_length=1, max_length=1, description="Fixed-width: the padding character.")

    @property
    def newline(self) -> str:
        return "\r\n" if self.line_ending == "crlf" else "\n"

    @model_validator(mode="after")
    def _csv_safe(self) -> Self:
        if self.quoting == "none" and self.decimal_separator == self.delimiter:
            raise ValueError(
                "decimal_separator equals the delimiter and quoting is none: numbers would split"
            )
        return self

    def check_columns(self, fields: set[str], fixed_width: bool) -> list[str]:
        """Problems of the columns against a profile's field names (empty: none)."""
        problems = []
        for column in self.columns:
            if not (column.value in fields or column.value in TOKENS or column.value.startswith(LITERAL)):
                problems.append(
                    f"column {column.header!r}: value {column.value!r} is neither a field of the profile, "
                    f"a token ({', '.join(sorted(TOKENS))}) nor literal:<text>"
                )
            if fixed_width and column.width is None:
                problems.append(f"column {column.header!r}: fixed-width needs a width")
        return problems
