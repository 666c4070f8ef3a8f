"""Key layout of a partition's state store (one store per source partition; values are orjson).

=====================================  ====================================================
key                                    value
=====================================  ====================================================
``m``                                  partition meta: applied offset, newest event time,
                                       last tick, watermark, next base interval to close,
                                       last minute whose deadlines were expired
``c|<conversationId>``                 the conversation's correlator state
``k|<baseStartMs>|<queue>|<media>``    this partition's partial accumulator for the cell
``i|<baseStartMs>``                    the (queue, media) dimensions with a cell in it
``r|<baseStartMs>``                    the revision of the last partial emitted for it
``d|<minute>``                         conversation ids with a deadline in that UTC minute
=====================================  ====================================================

Base intervals are the PT15M UTC grid; ``baseStartMs`` is epoch ms, zero-padded to 15 digits
so keys sort by time.
"""

from __future__ import annotations

META = "m"


def conversation(conversation_id: str) -> str:
    return f"c|{conversation_id}"


def cell(base_start_ms: int, queue_id: str, media_type: str) -> str:
    return f"k|{base_start_ms:015d}|{queue_id}|{media_type}"


def dimensions(base_start_ms: int) -> str:
    return f"i|{base_start_ms:015d}"


def revision(base_start_ms: int) -> str:
    return f"r|{base_start_ms:015d}"


def deadlines(minute: int) -> str:
    return f"d|{minute:012d}"
