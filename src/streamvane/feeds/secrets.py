"""Secrets by reference: a profile names *where* a secret lives (an environment variable or a file,
e.g. a mounted Kubernetes secret), never the secret itself.

The contract: a :class:`SecretRef` holds only the reference; :meth:`SecretRef.resolve` reads the
value at the moment of use and returns it wrapped in :class:`Secret`, whose ``repr``/``str`` are
masked, so a secret that ends up in a log line, an exception or a ledger record shows as ``***``.
Errors name the reference (``env:WFM_TOKEN``), never the value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streamvane.errors import ConfigError


class SecretUnavailableError(ConfigError):
    """The referenced variable or file is missing or empty."""


class Secret:
    """A resolved secret; only :meth:`reveal` gives the text."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class SecretRef(BaseModel):
    """``{env: NAME}`` or ``{file: /path}`` (the file's content, trailing newline stripped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Environment variable.")
    file: Path | None = Field(None, description="File holding the secret (e.g. a mounted K8s secret).")

    @model_validator(mode="before")
    @classmethod
    def _not_inline(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError(
                "inline secrets are refused: give a reference, {env: NAME} (an environment variable) "
                "or {file: PATH} (e.g. a mounted Kubernetes secret)"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.env is None) == (self.file is None):
            raise ValueError(
                "a secret reference needs exactly one of 'env' or 'file' (inline secrets are refused)"
            )
        return self

    @property
    def label(self) -> str:
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"

    def resolve(self) -> Secret:
        if self.env is not None:
            value = os.environ.get(self.env, "")
        else:
            assert self.file is not None
            try:
                value = self.file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise SecretUnavailableError(f"secret {self.label}: cannot read ({exc.strerror})") from None
        if not value:
            raise SecretUnavailableError(f"secret {self.label}: not set or empty")
        return Secret(value)
