"""``streamvane profiles validate|render``: agree a feed contract before anything is sent.

``validate DIR`` loads every profile file, checks every file it names (TLS certificates, CA,
file secrets), compiles its payload schema (generated JSON Schema or the shipped XSD) and renders
a quiet and a busy sample interval through it (:mod:`streamvane.feeds.sample_records`), so a
mapping that real data would break fails here and not at the first delivery. Each problem names
the profile's file. ``render`` prints the exact body that would be sent
for one interval of an event file (stdout) and the request line and headers (stderr; credentials
shown only as their reference).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from streamvane.feeds.drift import drift_report
from streamvane.feeds.endpoint import NoAuth
from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.loader import ProfileError, load_profile, load_profiles_dir, profile_files
from streamvane.feeds.overlay import contract_fingerprint, differences
from streamvane.feeds.payload_schema import PayloadValidator, text_problems
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.profile_files import profile_problems
from streamvane.feeds.render import PayloadRenderer, render
from streamvane.feeds.request import build_request
from streamvane.feeds.sample_records import sample_records
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig, load_kpi_config
from streamvane.kpi.intervals import format_instant, parse_instant


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("profiles", help="validate feed profiles and render their payloads")
    inner = p.add_subparsers(dest="profiles_command", required=True)
    v = inner.add_parser("validate", help="validate every profile file in a directory")
    v.add_argument("directory", type=Path)
    v.add_argument(
        "--env",
        help="apply the overlays of <directory>/env/ENV and print each effective profile (YAML)",
    )
    v.add_argument(
        "--skip-files",
        action="store_true",
        help="do not check that the files profiles name exist (validating another environment's "
        "profiles away from where they run)",
    )
    d = inner.add_parser(
        "diff",
        help="what differs between two environments' effective profiles (the contract must not)",
    )
    d.add_argument("directory", type=Path)
    d.add_argument("--from", dest="from_env", required=True, help="environment, e.g. test")
    d.add_argument("--to", dest="to_env", required=True, help="environment, e.g. prod")
    d.set_defaults(handler=run_diff)
    drift = inner.add_parser(
        "drift",
        help="queues with traffic that no profile lists, and listed queues silent past their limit, "
        "from the feed-record history (settings: kafka.*, profiles)",
    )
    drift.add_argument("--from", dest="from_", required=True, help="first interval start, ISO-8601")
    drift.add_argument("--to", required=True, help="end (exclusive), ISO-8601")
    drift.set_defaults(handler=run_drift)
    v.set_defaults(handler=run_validate)
    r = inner.add_parser("render", help="print the exact payload one interval of an event file gives")
    r.add_argument("profile", help="a profile YAML file, or a profile id in --profiles-dir")
    r.add_argument("--profiles-dir", type=Path, default=Path("profiles"))
    r.add_argument("--interval", required=True, help="interval start, ISO-8601 with offset")
    r.add_argument("--events", required=True, type=Path, help="JSON-lines Genesys event file")
    r.add_argument("--revision", type=int, default=1)
    r.add_argument(
        "--until",
        help="csv and fixed-width: render every interval from --interval up to this instant "
        "(exclusive) into one file, one header (a day's file for a legacy import)",
    )
    r.add_argument("--kpi-config", type=Path, help="KPI settings (YAML/JSON); default: Genesys' defaults")
    r.set_defaults(handler=run_render)


def run_validate(args: argparse.Namespace) -> int:
    try:
        paths = profile_files(args.directory)
    except ProfileError as exc:
        sys.stderr.write("".join(f"invalid: {p}\n" for p in exc.problems))
        return 1
    if not paths:
        sys.stderr.write(f"invalid: {args.directory}: no profile files (*.yaml)\n")
        return 1
    failed = 0
    seen: dict[str, Path] = {}
    for path in paths:
        problems = _problems(path, seen, args.env, check_files=not args.skip_files)
        if problems:
            failed += 1
            sys.stderr.write("".join(f"invalid: {p}\n" for p in problems))
    if args.env is not None and not failed:
        try:
            effective = load_profiles_dir(args.directory, args.env)
        except ProfileError as exc:
            sys.stderr.write("".join(f"invalid: {p}\n" for p in exc.problems))
            return 1
        for profile in effective:
            doc = profile.model_dump(mode="json", exclude_defaults=True)
            sys.stdout.write(f"--- # {profile.id}, effective in {args.env}\n")
            sys.stdout.write(yaml.safe_dump(doc, sort_keys=False))
    return 1 if failed else 0


def _problems(
    path: Path, seen: dict[str, Path], env: str | None = None, check_files: bool = True
) -> list[str]:
    """Everything wrong with one profile file (under ``env``'s overlay), each line naming the file;
    every payload version it delivers is checked."""
    try:
        profile = load_profile(path, env)
    except ProfileError as exc:
        return exc.problems
    problems: list[str] = []
    for feed in profile.side_by_side():
        if feed.id in seen:
            problems.append(f"{path}: id: {feed.id!r} is already used by {seen[feed.id]}")
            continue
        seen[feed.id] = path
        problems += _feed_problems(path, feed, check_files)
    return list(dict.fromkeys(problems))


def _feed_problems(path: Path, profile: FeedProfile, check_files: bool) -> list[str]:
    problems = [f"{path}: {problem}" for problem in profile_problems(profile)] if check_files else []
    try:
        validator = PayloadValidator(profile)
        for sample in sample_records(profile):
            problems += [f"{path}: payload: {p}" for p in validator.problems(render(profile, sample).body)]
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: payload: {exc}")
    if not problems:
        target = f"{profile.endpoint.method} {profile.endpoint.url}" if profile.endpoint else "no endpoint"
        every = profile.provisional_every_ms
        updates = f", provisional updates every {every / 60_000:g} min" if every else ""
        sys.stdout.write(
            f"ok {profile.id} v{profile.version}: {profile.cadence} {profile.time_zone}, "
            f"{len(profile.fields)} fields, {len(profile.dimensions) or 'all'} rows, "
            f"{profile.payload.format} {profile.payload.schema_version}{updates} -> {target}\n"
        )
    today = datetime.now(UTC).date()
    if profile.deprecated_after is not None and profile.deprecated_after < today:
        sys.stderr.write(
            f"warning: {path}: {profile.id} delivers payload {profile.payload.schema_version}, deprecated "
            f"after {profile.deprecated_after.isoformat()}: move its consumers to a newer version, "
            "then remove it\n"
        )
    return problems


def _find(args: argparse.Namespace) -> FeedProfile:
    path = Path(args.profile)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return load_profile(path)
    for profile in load_profiles_dir(args.profiles_dir):
        if profile.id == args.profile:
            return profile
    raise ProfileError([f"{args.profiles_dir}: no profile with id {args.profile!r}"])


def run_render(args: argparse.Namespace) -> int:
    try:
        profile = _find(args)
        start_ms = parse_instant(args.interval)
    except ProfileError as exc:
        sys.stderr.write("\n".join(f"render: {p}" for p in exc.problems) + "\n")
        return 2
    except ValueError as exc:
        sys.stderr.write(f"render: --interval: {exc}\n")
        return 2
    grid = profile.grid()
    if grid.start_of(start_ms) != start_ms:
        sys.stderr.write(
            f"render: --interval {args.interval} is not an interval start of {profile.cadence}\n"
        )
        return 2
    try:
        kpi = load_kpi_config(args.kpi_config) if args.kpi_config else KpiConfig()
    except ValueError as exc:
        sys.stderr.write(f"render: {exc}\n")
        return 2
    try:
        with args.events.open("rb") as stream:
            aggregator, report = compute(stream, grid, kpi, time.time_ns() // 1_000_000)
    except OSError as exc:
        sys.stderr.write(f"render: cannot read {args.events}: {exc.strerror}\n")
        return 1
    by_start = _by_interval(aggregator.cells)
    if args.until:
        return _render_range(args, profile, by_start, start_ms, kpi)
    record = interval_record(profile, start_ms, by_start.get(start_ms, {}), args.revision, kpi=kpi)
    payload = render(profile, record)
    problems = PayloadValidator(profile).problems(payload.body)
    if profile.endpoint is not None:
        request = build_request(profile, profile.endpoint, record, payload)
        sys.stderr.write(f"{request.method} {request.url}\n")
        for name, value in request.headers.items():
            sys.stderr.write(f"{name}: {value}\n")
        auth = profile.endpoint.auth
        if not isinstance(auth, NoAuth):
            secret = getattr(auth, "password", None) or getattr(auth, "token", None) or auth.client_secret  # type: ignore[union-attr]
            sys.stderr.write(f"Authorization: <{auth.type}, secret from {secret.label}>\n")
    sys.stderr.write(f"({payload.rows} rows, {len(payload.body)} bytes, {report.events} events read)\n")
    sys.stdout.buffer.write(payload.body)
    if not profile.payload.is_text:
        sys.stdout.buffer.write(b"\n")
    if problems:
        sys.stderr.write("render: payload breaks its contract: " + "; ".join(problems[:5]) + "\n")
        return 1
    return 0


def run_diff(args: argparse.Namespace) -> int:
    """Field by field, what the two environments' effective profiles set differently, and each
    profile's contract fingerprint in both (equal: the same contract, whatever the endpoints)."""
    try:
        before = {p.id: p for p in load_profiles_dir(args.directory, args.from_env)}
        after = {p.id: p for p in load_profiles_dir(args.directory, args.to_env)}
    except ProfileError as exc:
        sys.stderr.write("".join(f"invalid: {p}\n" for p in exc.problems))
        return 1
    same_contract = True
    for profile_id in sorted(before):
        a = before[profile_id].model_dump(mode="json")
        b = after[profile_id].model_dump(mode="json")
        fa, fb = contract_fingerprint(a), contract_fingerprint(b)
        same_contract &= fa == fb
        verdict = "same contract" if fa == fb else "CONTRACT DIFFERS"
        sys.stdout.write(f"{profile_id}: {verdict} ({args.from_env} {fa}, {args.to_env} {fb})\n")
        for path, old, new in differences(a, b):
            sys.stdout.write(f"  {path}: {old!r} -> {new!r}\n")
    return 0 if same_contract else 1


def _by_interval(
    cells: dict[tuple[str, str, int], IntervalAccumulator],
) -> dict[int, dict[tuple[str, str], IntervalAccumulator]]:
    """``compute``'s cells grouped by interval start, for the records of one or many intervals."""
    out: dict[int, dict[tuple[str, str], IntervalAccumulator]] = {}
    for (queue, media, start), acc in cells.items():
        out.setdefault(start, {})[(queue, media)] = acc
    return out


def _render_range(
    args: argparse.Namespace,
    profile: FeedProfile,
    by_start: dict[int, dict[tuple[str, str], IntervalAccumulator]],
    start_ms: int,
    kpi: KpiConfig,
) -> int:
    if not profile.payload.is_text:
        sys.stderr.write(
            f"render: --until is for csv and fixed-width payloads; {profile.id} is {profile.payload.format}\n"
        )
        return 2
    try:
        until_ms = parse_instant(args.until)
    except ValueError as exc:
        sys.stderr.write(f"render: --until: {exc}\n")
        return 2
    grid = profile.grid()
    starts: list[int] = []
    at = start_ms
    while at < until_ms:
        starts.append(at)
        at = grid.next_start(at)
    records = [interval_record(profile, at, by_start.get(at, {}), args.revision, kpi=kpi) for at in starts]
    body = PayloadRenderer(profile).text(records)
    layout = profile.payload.text
    assert layout is not None
    problems = text_problems(profile.payload.format, layout, body)
    sys.stderr.write(f"({len(starts)} intervals, {len(body)} bytes)\n")
    sys.stdout.buffer.write(body)
    if problems:
        sys.stderr.write("render: the file breaks its layout: " + "; ".join(problems) + "\n")
        return 1
    return 0


def run_drift(args: argparse.Namespace) -> int:
    """Routing drift over a range of the feed-record topic; exit 1 when there is any."""
    from streamvane.broker.preflight import open_kafka
    from streamvane.commands.replay import existing_records
    from streamvane.records.avro import AvroCodec
    from streamvane.settings import Settings

    settings = Settings()
    try:
        from_ms, to_ms = parse_instant(args.from_), parse_instant(args.to)
    except ValueError as exc:
        sys.stderr.write(f"drift: {exc}\n")
        return 2
    records = existing_records(open_kafka(settings.kafka), settings.topics.feed_records, AvroCodec()).values()
    findings = drift_report(settings.profiles, records, from_ms, to_ms)
    for f in findings:
        queue = f"{f.queue_id} ({f.media_type})"
        if f.kind == "unmapped":
            since = format_instant(f.since_ms) if f.since_ms is not None else "?"
            sys.stdout.write(f"unmapped  {f.profile_id}  {queue}  {f.offered} offered since {since}\n")
        else:
            since = (
                f"no traffic since {format_instant(f.since_ms)}" if f.since_ms else "no traffic in the range"
            )
            sys.stdout.write(f"silent    {f.profile_id}  {queue}  {since}\n")
    sys.stderr.write(
        f"drift: {len(findings)} findings from {format_instant(from_ms)} to {format_instant(to_ms)}\n"
    )
    return 1 if findings else 0
