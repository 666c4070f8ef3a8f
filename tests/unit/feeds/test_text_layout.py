"""CSV and fixed-width layouts, exactly: quoting, separators, padding, and what does not fit."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from streamvane.feeds.payload_schema import PayloadValidator
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import PayloadRenderer, UnrenderableRecord, render
from tests.support.dispatcher import QUEUE, records

FIELDS = [
    {"name": "offered", "metric": "nOffered", "when_empty": "zero"},
    {"name": "sl", "derived": "service_level_pct", "decimals": 2},
]


def profile(fmt: str, text: dict[str, Any]) -> FeedProfile:
    return FeedProfile.model_validate(
        {
            "id": "legacy",
            "version": 1,
            "time_zone": "Europe/Berlin",
            "dimensions": [
                {"queue_id": QUEUE, "media_type": "voice", "name": "Sales; North", "external_key": "7"}
            ],
            "fields": FIELDS,
            "payload": {"format": fmt, "text": text},
        }
    )


def test_csv_with_semicolons_decimal_commas_all_quoted_no_header_and_lf() -> None:
    spec = profile(
        "csv",
        {
            "header": False,
            "delimiter": ";",
            "quoting": "all",
            "decimal_separator": ",",
            "line_ending": "lf",
            "time_format": "%d.%m.%Y %H:%M",
            "empty": "-",
            "columns": [
                {"header": "Beginn", "value": "interval_start"},
                {"header": "Queue", "value": "queue_name"},
                {"header": "Angebot", "value": "offered"},
                {"header": "SL", "value": "sl"},
                {"header": "Quelle", "value": "literal:streamvane"},
            ],
        },
    )
    body = PayloadRenderer(spec).text(records("legacy", 2))
    assert body == (
        b'"02.11.2026 09:00";"Sales; North";"3";"-";"streamvane"\n'
        b'"02.11.2026 09:15";"Sales; North";"4";"-";"streamvane"\n'
    )
    payload = render(spec, records("legacy", 1)[0])
    assert payload.content_type == "text/csv; charset=utf-8" and payload.rows == 1
    assert PayloadValidator(spec).problems(body) == []


def test_minimal_quoting_quotes_only_what_needs_it_and_keeps_the_header() -> None:
    spec = profile(
        "csv",
        {
            "delimiter": ";",
            "columns": [
                {"header": "Queue", "value": "queue_name"},
                {"header": "Offered", "value": "offered"},
            ],
        },
    )
    assert PayloadRenderer(spec).text(records("legacy", 1)) == b'Queue;Offered\r\n"Sales; North";3\r\n'


def test_fixed_width_pads_numbers_right_text_left_and_cuts_long_text() -> None:
    spec = profile(
        "fixed-width",
        {
            "header": False,
            "line_ending": "lf",
            "columns": [
                {"header": "key", "value": "queue_key", "width": 3, "pad": "0", "align": "right"},
                {"header": "name", "value": "queue_name", "width": 5},
                {"header": "offered", "value": "offered", "width": 4, "pad": "0"},
                {"header": "media", "value": "media_type", "width": 1, "map": {"voice": "V"}},
            ],
        },
    )
    body = PayloadRenderer(spec).text(records("legacy", 1))
    assert body == b"007Sales0003V\n"
    assert render(spec, records("legacy", 1)[0]).content_type == "text/plain; charset=utf-8"
    assert PayloadValidator(spec).problems(body) == []
    assert PayloadValidator(spec).problems(b"007Sales003V\n") == ["line 1: 12 characters, the layout has 13"]


def test_a_number_wider_than_its_column_is_refused_not_cut() -> None:
    spec = profile(
        "fixed-width",
        {"header": False, "columns": [{"header": "offered", "value": "offered", "width": 1}]},
    )
    with pytest.raises(UnrenderableRecord, match="does not fit column 'offered'"):
        PayloadRenderer(spec).text(records("legacy", 1, offered=12))


@pytest.mark.parametrize(
    ("fmt", "text", "problem"),
    [
        ("csv", {"columns": [{"header": "x", "value": "nOffered"}]}, "neither a field of the profile"),
        ("fixed-width", {"columns": [{"header": "x", "value": "offered"}]}, "fixed-width needs a width"),
        ("csv", {"columns": [], "delimiter": ";"}, "columns"),
        (
            "json",
            {"columns": [{"header": "x", "value": "offered"}]},
            "applies to formats csv and fixed-width",
        ),
    ],
)
def test_a_layout_that_cannot_be_rendered_is_refused_when_the_profile_loads(
    fmt: str, text: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        profile(fmt, text)
