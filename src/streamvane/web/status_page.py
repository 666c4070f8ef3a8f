"""The status page as HTML, from the interval view: a grid of intervals × profiles, each cell in
its profile's own zone and coloured by state, plus consumer lag, each keyed partition's
watermark and the last errors. Self-contained (inline CSS, no scripts, nothing from a CDN),
refreshes itself, readable on a laptop and printable. Pure: data in, text out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from streamvane.feeds.drift import drift_report
from streamvane.feeds.interval_status import STATES, IntervalCell, IntervalStatus
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import local_iso, utc_iso

REFRESH_S = 10
_COLOURS = {
    "pending": "#d9d9d9",
    "delivered-on-time": "#7cc47f",
    "delivered-late": "#f2c14e",
    "retrying": "#7fb3e6",
    "dead-lettered": "#e06666",
    "restated": "#b39ddb",
    "out-of-tolerance": "#ff8a3d",
}
_CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #bbb;padding:3px 8px;text-align:left}"
    "th{background:#f3f3f3}td.cell a{color:#111;text-decoration:none;display:block}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}.legend span{padding:2px 8px;margin-right:6px}"
    "pre{background:#f7f7f7;padding:.8em;overflow:auto;max-width:100%}"
    "@media print{body{margin:0}a{color:#111}}"
    + "".join(f".s-{state}{{background:{colour}}}" for state, colour in _COLOURS.items())
)


def _page(title: str, body: str, refresh: bool) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if refresh else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>"
    )


def status_html(
    profiles: Sequence[FeedProfile],
    status: IntervalStatus,
    rows: int,
    lags: Mapping[str, int | None],
    watermarks: Mapping[int, int],
    errors: Sequence[Mapping[str, Any]],
    now_ms: int,
) -> str:
    by_profile = {p.id: p for p in profiles}
    starts = sorted(
        {start for (pid, start), c in status.cells.items() if pid in by_profile and c.record}, reverse=True
    )[:rows]
    legend = "".join(f'<span class="s-{s}">{s}</span>' for s in STATES)
    head = "".join(
        f"<th>{html.escape(p.id)}<br><small>{p.cadence} {html.escape(p.time_zone)}</small></th>"
        for p in profiles
    )
    lines = []
    for start in starts:
        cells = []
        for profile in profiles:
            cell = status.cells.get((profile.id, start))
            cells.append(
                _cell(profile, cell) if cell is not None and cell.record is not None else "<td></td>"
            )
        lines.append(f"<tr><th>{utc_iso(start)}</th>{''.join(cells)}</tr>")
    grid = (
        f"<table><tr><th>interval start (UTC)</th>{head}</tr>{''.join(lines)}</table>"
        if lines
        else "<p>No interval computed yet.</p>"
    )
    lag_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{'unknown' if lag is None else lag}</td></tr>"
        for name, lag in lags.items()
    )
    marks = "".join(
        f"<tr><td>{p}</td><td>{utc_iso(w)}</td><td>{(now_ms - w) / 60_000:.1f} min</td></tr>"
        for p, w in sorted(watermarks.items())
    )
    recent = "".join(
        f"<tr><td>{html.escape(str(e.get('source', '')))}</td><td>{html.escape(str(e.get('interval') or ''))}</td>"
        f"<td>{html.escape(str(e.get('detail', '')))}</td></tr>"
        for e in reversed(errors)
    )
    held = [c.record for (pid, _), c in status.cells.items() if pid in by_profile and c.record is not None]
    drift_rows = "".join(
        f"<tr><td>{f.kind}</td><td>{html.escape(f.profile_id)}</td><td>{html.escape(f.queue_id)}</td>"
        f"<td>{html.escape(f.media_type)}</td><td>{f.offered if f.kind == 'unmapped' else ''}</td>"
        f"<td>{utc_iso(f.since_ms) if f.since_ms is not None else 'never'}</td></tr>"
        for f in (
            drift_report(
                profiles, held, min(r.interval_start_ms for r in held), max(r.interval_end_ms for r in held)
            )
            if held
            else []
        )
    )
    body = (
        f"<h1>Streamvane status</h1><p>As of {utc_iso(now_ms)}; refreshes every {REFRESH_S} s. "
        f"Each cell is an interval in its profile's own zone; click it for the delivered body, the "
        f'attempts and the idempotency key.</p><p class="legend">{legend}</p>{grid}'
        f"<h2>Consumer lag</h2><table><tr><th>group / topic</th><th>records behind</th></tr>{lag_rows}</table>"
        f"<h2>Watermark per keyed partition</h2><table><tr><th>partition</th><th>watermark</th><th>behind the wall clock</th></tr>{marks}</table>"
        f"<h2>Last errors</h2><table><tr><th>where</th><th>interval</th><th>what</th></tr>{recent}</table>"
        f"<h2>Routing drift</h2><p>Queues with traffic that a profile does not list, and listed queues "
        f"silent past the profile's silent_after_ms, over every interval the page holds.</p>"
        f"<table><tr><th>finding</th><th>profile</th><th>queue</th><th>media</th><th>offered</th>"
        f"<th>since</th></tr>{drift_rows}</table>"
    )
    return _page("Streamvane status", body, refresh=True)


def _cell(profile: FeedProfile, cell: IntervalCell) -> str:
    state = cell.state(profile)
    link = "/status/cell?" + urlencode({"profile": profile.id, "start": cell.start_ms})
    local = local_iso(cell.start_ms, profile.time_zone)[11:16]
    revision = f" r{cell.revision}" if cell.revision > 1 else ""
    return (
        f'<td class="cell s-{state}" title="{state}"><a href="{link}">{local}{revision} '
        f"<small>{state}</small></a></td>"
    )


def cell_html(profile: FeedProfile, cell: IntervalCell, body: str, content_type: str) -> str:
    """One cell: state, revision, idempotency key, every outcome and attempt count, the body the
    endpoint was sent (rendered from the record, as the dispatcher renders it) and its
    reconciliation."""
    record = cell.record
    assert record is not None
    outcomes = "".join(
        f"<tr><td>{o.get('revision')}</td><td>{html.escape(str(o.get('source')))}</td>"
        f"<td>{html.escape(str(o.get('result')))}</td><td>{o.get('attempts')}</td><td>{o.get('status') or ''}</td>"
        f"<td>{datetime.fromtimestamp(int(o['finishedMs']) / 1000, UTC).isoformat(timespec='seconds')}</td>"
        f"<td>{html.escape(str(o.get('detail') or o.get('error') or ''))}</td></tr>"
        for o in cell.outcomes
    )
    report = cell.reconciliation.get(cell.revision)
    verdict = (
        "not reconciled yet"
        if report is None
        else f"{report['verdict']} ({report['ok']} ok, {report['out']} out)"
    )
    body_text = html.escape(body)
    page = (
        f'<p><a href="/status">← status</a></p><h1>{html.escape(profile.id)} '
        f"{local_iso(cell.start_ms, profile.time_zone)}</h1>"
        f'<table><tr><th>state</th><td class="s-{cell.state(profile)}">{cell.state(profile)}</td></tr>'
        f"<tr><th>interval (UTC)</th><td>{utc_iso(cell.start_ms)} – {utc_iso(cell.end_ms)}</td></tr>"
        f"<tr><th>revision</th><td>{record.revision}</td></tr>"
        f"<tr><th>idempotency key</th><td><code>{record.idempotency_key}</code></td></tr>"
        f"<tr><th>KPI settings</th><td><code>{record.kpi_fingerprint}</code></td></tr>"
        f"<tr><th>attempts</th><td>{cell.attempts()}</td></tr>"
        f"<tr><th>reconciliation</th><td>{html.escape(verdict)}</td></tr></table>"
        f"<h2>Outcomes</h2><table><tr><th>revision</th><th>source</th><th>result</th><th>attempts</th>"
        f"<th>status</th><th>finished</th><th>detail</th></tr>{outcomes}</table>"
        f"<h2>Body ({html.escape(content_type)})</h2><pre>{body_text}</pre>"
    )
    return _page(f"{profile.id} {utc_iso(cell.start_ms)}", page, refresh=False)
