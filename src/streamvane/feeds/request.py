"""The HTTP request for one record, minus credentials: method, URL and headers (pure).

``Idempotency-Key`` is the record's deterministic key, written as a Structured-Field string
(``"…"``, draft-ietf-httpapi-idempotency-key-header): stable across retries, restarts and replays,
different for each revision (a restatement is a different body, so it must not reuse the key).
It is derived with the version of the profile that renders the body, so a record emitted under
an older contract version and replayed after an upgrade gets a new key with its new body (for
records of the current version it is exactly the record's own key).
A provisional update carries ``X-Streamvane-Provisional: <update number>``; a final never does.
The auth header is added by the dispatcher at send time, so it never exists outside a request.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamvane.feeds.endpoint import EndpointSpec, expand_url
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import Payload, utc_iso
from streamvane.records.feed_record import FeedRecord, idempotency_key

PROFILE_HEADER = "X-Streamvane-Profile"
PROFILE_VERSION_HEADER = "X-Streamvane-Profile-Version"
PAYLOAD_VERSION_HEADER = "X-Streamvane-Payload-Version"
INTERVAL_HEADER = "X-Streamvane-Interval"
REVISION_HEADER = "X-Streamvane-Revision"
PROVISIONAL_HEADER = "X-Streamvane-Provisional"


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def delivery_key(profile: FeedProfile, record: FeedRecord) -> str:
    if record.profile_version == profile.version:
        return record.idempotency_key
    return idempotency_key(
        profile.id,
        profile.version,
        record.interval_start_ms,
        record.revision,
        record.rows,
        record.provisional,
    )


def build_request(
    profile: FeedProfile, endpoint: EndpointSpec, record: FeedRecord, payload: Payload
) -> DeliveryRequest:
    start, end = utc_iso(record.interval_start_ms), utc_iso(record.interval_end_ms)
    url = expand_url(
        endpoint.url,
        {
            "profile": profile.id,
            "version": str(profile.version),
            "interval_start": start,
            "interval_end": end,
            "interval_start_ms": str(record.interval_start_ms),
            "revision": str(record.revision),
        },
    )
    headers = {
        **endpoint.literal_headers,
        "Content-Type": payload.content_type,
        "Idempotency-Key": f'"{delivery_key(profile, record)}"',
        PROFILE_HEADER: profile.id,
        PROFILE_VERSION_HEADER: str(profile.version),
        PAYLOAD_VERSION_HEADER: profile.payload.schema_version,
        INTERVAL_HEADER: f"{start}/{end}",
        REVISION_HEADER: str(record.revision),
    }
    if record.provisional:
        headers[PROVISIONAL_HEADER] = str(record.provisional)
    return DeliveryRequest(endpoint.method, url, headers, payload.body)
