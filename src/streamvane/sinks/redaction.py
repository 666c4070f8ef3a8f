"""Secrets never leave a request: every text the dispatcher writes (ledger, dead letters, logs,
exception messages) passes through a :class:`Redactor` that knows every secret resolved so far.
"""

from __future__ import annotations

MASK = "***"


class Redactor:
    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text
