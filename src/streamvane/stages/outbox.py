"""Messages a stage must publish, kept in its store until the broker has acknowledged them.

A batch writes its outputs to the outbox in the same commit as its state, so a worker killed
before its sends were acknowledged sends them again after restart (every output is idempotent
downstream: keyed, revisioned, deduplicated). The shell publishes the outbox, awaits the acks,
then clears it.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from streamvane.stages.store import OUTBOX_KEY, Store, delete_sliced, read_sliced, write_sliced

# Where an output goes; the shell maps these to topics.
PARTIALS = "partials"
QUARANTINE = "quarantine"
RECORDS = "records"
PROVISIONAL = "provisional"


class Output(NamedTuple):
    destination: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


def _text(data: bytes | None) -> str | None:
    return data.decode("latin-1") if data is not None else None


def _bytes(text: str | None) -> bytes | None:
    return text.encode("latin-1") if text is not None else None


def add(store: Store, outputs: list[Output]) -> None:
    """Append ``outputs``; a large outbox is sliced (one bounded changelog record per slice)."""
    if not outputs:
        return
    doc = [
        [o.destination, _text(o.key), _text(o.value), [[name, _text(value)] for name, value in o.headers]]
        for o in [*pending(store), *outputs]
    ]
    delete_sliced(store, OUTBOX_KEY)
    write_sliced(store, OUTBOX_KEY, orjson.dumps(doc))


def pending(store: Store) -> list[Output]:
    raw = read_sliced(store, OUTBOX_KEY)
    if raw is None:
        return []
    outputs = []
    for destination, key, value, headers in orjson.loads(raw):
        encoded = _bytes(value)
        assert encoded is not None
        outputs.append(
            Output(destination, _bytes(key), encoded, tuple((n, _bytes(v) or b"") for n, v in headers))
        )
    return outputs


def clear(store: Store) -> None:
    delete_sliced(store, OUTBOX_KEY)
