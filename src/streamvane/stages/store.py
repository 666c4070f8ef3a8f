"""The key-value store a stage keeps its state in: a changelogged table in the topology."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Store(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(slots=True)
class DictStore:
    """In-memory store, for tests and the offline tools."""

    data: dict[str, bytes] = field(default_factory=dict)

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)
