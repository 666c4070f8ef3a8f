"""Progress lines on stderr for long-running commands (stdout stays machine-readable)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class Progress:
    """Prints ``label: done/total (pct) rate/s`` at most every ``every_s`` seconds."""

    label: str
    every_s: float = 1.0
    _started: float = field(default_factory=time.monotonic)
    _last: float = 0.0

    def update(self, done: int, total: int | None = None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        rate = done / max(now - self._started, 1e-9)
        share = f" ({100 * done / total:.0f}%)" if total else ""
        of = f"/{total:,}" if total else ""
        sys.stderr.write(f"{self.label}: {done:,}{of}{share} {rate:,.0f}/s\n")
        sys.stderr.flush()
