"""The demo's provisional updates, as the receiver got them: the live lines (from the receiver's
own request log, so they show what reached the WFM, not what was sent) and the closing check.

For every wanted interval of a profile with provisional updates, the check wants at least one
update before the final, none after it, and the final's body byte for byte what the same profile
without provisional updates renders from the interval's record on the feed topic.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import local_iso, render
from streamvane.feeds.request import INTERVAL_HEADER, PROFILE_HEADER, PROVISIONAL_HEADER
from streamvane.kpi.intervals import format_instant, parse_instant
from streamvane.records.feed_record import FeedRecord


@dataclass
class _Interval:
    updates: list[int] = field(default_factory=list)
    after_final: list[int] = field(default_factory=list)
    final_body: bytes | None = None


@dataclass
class ProvisionalWatch:
    profiles: list[FeedProfile]
    receiver_log: Path
    intervals: dict[tuple[str, int], _Interval] = field(default_factory=dict)
    _offset: int = 0

    def __post_init__(self) -> None:
        self.updating = {p.id: p for p in self.profiles if p.provisional is not None}

    def poll(self) -> None:
        """Show the updates the receiver logged since the last poll."""
        if not self.updating or not self.receiver_log.exists():
            return
        with self.receiver_log.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            self._take(orjson.loads(line))

    def _take(self, entry: dict[str, Any]) -> None:
        headers = entry["headers"]
        profile = self.updating.get(headers.get(PROFILE_HEADER, ""))
        if profile is None or entry["status"] != 200 or INTERVAL_HEADER not in headers:
            return
        start = parse_instant(headers[INTERVAL_HEADER].split("/")[0])
        seen = self.intervals.setdefault((profile.id, start), _Interval())
        update = headers.get(PROVISIONAL_HEADER)
        if update is None:
            seen.final_body = str(entry["body"]).encode()  # a restatement's: the newest record's
            return
        (seen.after_final if seen.final_body is not None else seen.updates).append(int(update))
        as_of = orjson.loads(entry["body"]).get("provisional", {}).get("asOf", "?")
        sys.stdout.write(
            f"{local_iso(start, profile.time_zone):<27} {profile.id:<24} provisional update {update} "
            f"delivered (as of {as_of})\n"
        )
        sys.stdout.flush()

    def check(self, wanted: Iterable[tuple[str, int]], records: dict[tuple[str, int], FeedRecord]) -> bool:
        """The closing lines; True when every wanted interval of an updating profile passed."""
        if not self.updating:
            return True
        self.poll()
        finals_only = {pid: p.model_copy(update={"provisional": None}) for pid, p in self.updating.items()}
        ok = True
        for key in sorted(k for k in wanted if k[0] in self.updating):
            seen = self.intervals.get(key, _Interval())
            record = records.get(key)
            same = (
                record is not None
                and seen.final_body is not None
                and render(finals_only[key[0]], record).body == seen.final_body
            )
            passed = bool(seen.updates) and not seen.after_final and same
            ok = ok and passed
            sys.stdout.write(
                f"streamvane demo: {key[0]} {format_instant(key[1])}: {len(seen.updates)} provisional "
                f"updates {seen.updates} then the final"
                f"{f', {len(seen.after_final)} AFTER it' if seen.after_final else ''}; final body "
                f"{'byte-identical to' if same else 'DIFFERENT from'} the same profile without updates\n"
            )
        return ok
