"""JSON lines from a byte stream, with a bound on how much one line may hold in memory.

An event file may contain a line of hundreds of megabytes (a corrupt export, a wrong file). It is
never read whole: at most ``max_bytes + 1`` bytes of it are held, the rest is skipped up to the
next newline, and the line is reported as :class:`OversizedLine` with its true length, so the
caller can reject it on its own line and go on with the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_SKIP_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class OversizedLine:
    """A line longer than the limit; ``length`` counts its bytes without the newline."""

    length: int
    limit: int


def read_lines(stream: BinaryIO, max_bytes: int) -> Iterator[bytes | OversizedLine]:
    """Each line of ``stream`` without its newline, or :class:`OversizedLine` past ``max_bytes``."""
    readline = stream.readline
    while True:
        line = readline(max_bytes + 2)
        if not line:
            return
        if line.endswith(b"\n"):
            yield line[:-1]
            continue
        if len(line) <= max_bytes:
            yield line  # the last line, without a newline
            continue
        length = len(line)
        while True:
            chunk = readline(_SKIP_CHUNK)
            if not chunk:
                break
            if chunk.endswith(b"\n"):
                length += len(chunk) - 1
                break
            length += len(chunk)
        yield OversizedLine(length, max_bytes)
