"""Every error Streamvane raises on purpose, in one tree: what a caller decides from is whether it
is worth trying again (``retriable``), not which class it happens to be.

- :class:`ConfigError`: a fault in settings, profiles or the files and secrets they name. It
  cannot fix itself: fail fast, say what and where, never retry.
- :class:`TransientError`: the other side is unavailable for now (a broker, a token endpoint).
  Worth trying again later.
- Anything else (bad input, a record that cannot be rendered) is final for that input.

Builtin bases are kept where callers already catch them (``ValueError`` for bad input), so the
tree adds a decision without changing what is caught.
"""

from __future__ import annotations


class StreamvaneError(Exception):
    """The root. ``retriable``: the same call may succeed later without anyone changing anything."""

    retriable: bool = False


class ConfigError(StreamvaneError, ValueError):
    """Settings, a profile, or a file or secret one names, is wrong or missing."""


class TransientError(StreamvaneError):
    """The other side is unavailable for now."""

    retriable = True


class InputError(StreamvaneError, ValueError):
    """Input that is not what it claims to be (a document, a record, a range)."""
