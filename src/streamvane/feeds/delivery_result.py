"""Every final result a feed record's delivery can have, and which of them leave the record owed
to its endpoint (dead-lettered): one rule for the dispatcher, the status view and the SLA report,
which read results back from the delivery ledger as their string values.
"""

from __future__ import annotations

from enum import StrEnum


class Result(StrEnum):
    DELIVERED = "delivered"
    REJECTED = "rejected"  # a status that is not worth retrying (4xx)
    DEADLINE_EXCEEDED = "deadline-exceeded"
    INVALID_PAYLOAD = "invalid-payload"  # the rendered body breaks the profile's own schema
    UNRENDERABLE = "unrenderable"  # the record cannot be rendered as computed (schema v1)
    CONFIG_ERROR = "config-error"  # a missing certificate, CA file or secret: not retried
    UNKNOWN_PROFILE = "unknown-profile"
    UNDECODABLE = "undecodable"
    NO_ENDPOINT = "no-endpoint"  # a records-only profile: nothing to send
    SUPERSEDED = "superseded"  # a newer revision of the interval exists: an older one is never sent

    @property
    def dead_letters(self) -> bool:
        """Whether a record with this result is owed to its endpoint (dead-lettered)."""
        return self not in (Result.DELIVERED, Result.NO_ENDPOINT, Result.SUPERSEDED)
