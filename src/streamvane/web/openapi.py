"""The read API's OpenAPI 3.1 document, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from streamvane.feeds.interval_status import State

_RANGE = [
    {
        "name": "profile",
        "in": "query",
        "required": True,
        "schema": {"type": "string"},
        "description": "Profile id.",
    },
    {
        "name": "from",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "format": "date-time"},
        "description": "First interval start (inclusive), ISO-8601 with an offset.",
    },
    {
        "name": "to",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "format": "date-time"},
        "description": "End of the range (exclusive), ISO-8601 with an offset.",
    },
]
_CACHED = {
    "304": {"description": "Unchanged since the ETag given in If-None-Match."},
    "400": {
        "description": "A parameter is missing or malformed.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
    "401": {
        "description": "No valid bearer token.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Streamvane read API",
        "version": "1",
        "description": "The computed interval documents the feeds render, for dashboards and reports. "
        "Intervals are half-open [start, end); durations as the profile's fields define them.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
            "Interval": {
                "type": "object",
                "required": [
                    "profile",
                    "intervalStart",
                    "intervalEnd",
                    "revision",
                    "idempotencyKey",
                    "state",
                    "document",
                ],
                "properties": {
                    "profile": {"type": "string"},
                    "intervalStart": {"type": "string", "format": "date-time"},
                    "intervalEnd": {"type": "string", "format": "date-time"},
                    "revision": {"type": "integer", "minimum": 1},
                    "idempotencyKey": {"type": "string"},
                    "kpiFingerprint": {"type": "string"},
                    "state": {
                        "type": "string",
                        "enum": [state.value for state in State],
                    },
                    "attempts": {"type": "integer", "minimum": 0},
                    "document": {
                        "type": "object",
                        "description": "The payload document the profile renders.",
                    },
                },
            },
        },
    },
    "paths": {
        "/api/v1/intervals": {
            "get": {
                "summary": "Interval documents of a profile in a range, oldest first.",
                "parameters": [
                    *_RANGE,
                    {
                        "name": "queue",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Only this queue id's rows.",
                    },
                    {
                        "name": "media",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Only this media type's rows.",
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "schema": {"type": "integer"},
                        "description": "Cursor: 'next' of the previous page.",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "One page.",
                        "headers": {"ETag": {"schema": {"type": "string"}}},
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["items", "next"],
                                    "properties": {
                                        "items": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Interval"},
                                        },
                                        "next": {"type": ["integer", "null"]},
                                    },
                                }
                            }
                        },
                    },
                    **_CACHED,
                },
            }
        },
        "/api/v1/aggregates": {
            "get": {
                "summary": "The same numbers in the shape of Genesys' conversation aggregates query response.",
                "parameters": _RANGE,
                "responses": {
                    "200": {
                        "description": "results[].group{queueId, mediaType}, data[].interval, metrics[].stats",
                        "headers": {"ETag": {"schema": {"type": "string"}}},
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_CACHED,
                },
            }
        },
        "/api/v1/profiles": {
            "get": {
                "summary": "The profiles served.",
                "responses": {
                    "200": {"description": "id, version, cadence, timeZone, fields, dimensions"},
                    **_CACHED,
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document.", "responses": {"200": {"description": "OpenAPI 3.1"}}}
        },
    },
}
