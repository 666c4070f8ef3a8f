"""``streamvane serve``: the status page and the read API over the computed interval documents.

The numbers are the feed records' — the same documents the dispatcher renders for the WFM — read
from the topics (:mod:`.read_model`), so the page, a dashboard and the endpoint agree.

- ``/status``: the grid (:mod:`.status_page`); ``/status/cell?profile=P&start=MS``: one cell.
- ``/api/v1/intervals?profile=P&from=T1&to=T2[&queue=Q][&media=M][&limit=N][&after=MS]``:
  interval documents (exactly the payload document the profile renders, with revision,
  idempotency key, KPI fingerprint, state and attempts), paged by ``after`` (the next page's
  cursor is ``next``).
- ``/api/v1/aggregates?profile=P&from=T1&to=T2``: the same numbers in the shape of Genesys'
  aggregates query response, for a Power BI Web/JSON connector or Grafana's JSON datasource.
- ``/api/v1/profiles``, ``/api/v1/openapi.json``.
- ``/healthz``; ``/readyz`` (503 until the view has read every topic to its end).
Every ``/api`` answer carries a strong ``ETag`` (the body's SHA-256); ``If-None-Match`` with it
answers 304. ``/api`` requires ``Authorization: Bearer <serve.token>`` (a secret reference,
compared in constant time); the page and probes do not. Instants are ISO-8601 with an offset,
intervals half-open ``[start, end)``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.group_lag import group_lag
from streamvane.feeds.interval_status import IntervalCell
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import PayloadRenderer, UnrenderableRecord, utc_iso
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import parse_instant
from streamvane.web.openapi import OPENAPI
from streamvane.web.read_model import ReadModel
from streamvane.web.status_page import cell_html, status_html

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_LIMIT = 1000


class LagWatcher:
    """Consumer lag per (group, topic), refreshed in a thread every ``every_s`` (reading it
    costs broker round trips; the page must not wait for them)."""

    def __init__(
        self, kafka: KafkaConnection, watched: Sequence[tuple[str, str]], every_s: float = 10.0
    ) -> None:
        self.kafka, self.watched, self.every_s = kafka, list(watched), every_s
        self.lags: dict[str, int | None] = {f"{g} / {t}": None for g, t in self.watched}

    def start(self) -> LagWatcher:
        threading.Thread(target=self._run, name="lag", daemon=True).start()
        return self

    def _run(self) -> None:
        while True:
            for group, topic in self.watched:
                try:
                    self.lags[f"{group} / {topic}"] = group_lag(self.kafka, group, topic)
                except Exception:  # noqa: BLE001 (an unreadable lag is shown as unknown)
                    self.lags[f"{group} / {topic}"] = None
            time.sleep(self.every_s)


def create_app(
    profiles: Sequence[FeedProfile],
    model: ReadModel,
    token: str,
    kpi: KpiConfig,
    lags: Mapping[str, int | None] | None = None,
    rows: int = 96,
) -> web.Application:
    by_id = {p.id: p for p in profiles}
    renderers = {p.id: PayloadRenderer(p) for p in profiles}

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/"):
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return web.json_response({"error": "a valid bearer token is required"}, status=401)
            response = await handler(request)
            if isinstance(response, web.Response) and response.status == 200 and response.body is not None:
                body = bytes(response.body)  # type: ignore[arg-type]
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
                    return web.Response(status=304, headers={"ETag": etag})
                response.headers["ETag"] = etag
            return response
        return await handler(request)

    def json(doc: Any) -> web.Response:
        return web.Response(body=orjson.dumps(doc), content_type="application/json")

    def bad(message: str) -> web.Response:
        return web.json_response({"error": message}, status=400)

    def query(request: web.Request) -> tuple[FeedProfile, int, int]:
        profile = by_id.get(request.query.get("profile", ""))
        if profile is None:
            raise web.HTTPBadRequest(
                text=orjson.dumps({"error": f"profile: one of {sorted(by_id)}"}).decode(),
                content_type="application/json",
            )
        try:
            from_ms = parse_instant(request.query["from"])
            to_ms = parse_instant(request.query["to"])
        except (KeyError, ValueError) as exc:
            raise web.HTTPBadRequest(
                text=orjson.dumps({"error": f"from/to: ISO-8601 instants with an offset ({exc})"}).decode(),
                content_type="application/json",
            ) from None
        return profile, from_ms, to_ms

    def cells(profile: FeedProfile, from_ms: int, to_ms: int) -> list[IntervalCell]:
        with model.lock:
            return model.status.select(profile.id, from_ms, to_ms)

    async def intervals(request: web.Request) -> web.Response:
        profile, from_ms, to_ms = query(request)
        try:
            limit = min(MAX_LIMIT, max(1, int(request.query.get("limit", "100"))))
            after = int(request.query["after"]) if "after" in request.query else None
        except ValueError:
            return bad("limit and after are integers")
        queue, media = request.query.get("queue"), request.query.get("media")
        names = profile.payload.dimension_fields
        chosen = [c for c in cells(profile, from_ms, to_ms) if after is None or c.start_ms > after]
        page, more = chosen[:limit], len(chosen) > limit
        items = []
        for cell in page:
            assert cell.record is not None
            try:
                doc = renderers[profile.id].document(cell.record)
            except UnrenderableRecord as exc:
                doc = {"error": str(exc)}
            if "rows" in doc:
                doc["rows"] = [
                    r
                    for r in doc["rows"]
                    if (queue is None or r[names.queue_id] == queue)
                    and (media is None or r[names.media_type] == media)
                ]
            items.append(
                {
                    "profile": profile.id,
                    "intervalStart": utc_iso(cell.start_ms),
                    "intervalEnd": utc_iso(cell.end_ms),
                    "revision": cell.record.revision,
                    "idempotencyKey": cell.record.idempotency_key,
                    "kpiFingerprint": cell.record.kpi_fingerprint,
                    "state": cell.state(profile),
                    "attempts": cell.attempts(),
                    "document": doc,
                }
            )
        return json({"items": items, "next": page[-1].start_ms if more else None})

    async def aggregates(request: web.Request) -> web.Response:
        profile, from_ms, to_ms = query(request)
        grid = profile.grid()
        accumulators: dict[tuple[str, str, int], IntervalAccumulator] = {}
        for cell in cells(profile, from_ms, to_ms):
            assert cell.record is not None
            for row in cell.record.rows:
                if row.metrics:
                    stats = {m.metric: (m.count, m.sum, m.min, m.max) for m in row.metrics}
                    accumulators[(row.queue_id, row.media_type, cell.start_ms)] = (
                        IntervalAccumulator.from_snapshot(stats)
                    )
        return json(aggregates_response(accumulators, grid, kpi))

    async def profiles_list(_: web.Request) -> web.Response:
        return json(
            [
                {
                    "id": p.id,
                    "version": p.version,
                    "cadence": p.cadence,
                    "timeZone": p.time_zone,
                    "fields": [f.name for f in p.fields],
                    "dimensions": [[d.queue_id, d.media_type] for d in p.dimensions],
                }
                for p in profiles
            ]
        )

    async def openapi(_: web.Request) -> web.Response:
        return json(OPENAPI)

    async def status(_: web.Request) -> web.Response:
        with model.lock:
            text = status_html(
                profiles,
                model.status,
                rows,
                dict(lags or {}),
                dict(model.watermarks),
                list(model.errors),
                _now_ms(),
            )
        return web.Response(text=text, content_type="text/html")

    async def status_cell(request: web.Request) -> web.Response:
        profile = by_id.get(request.query.get("profile", ""))
        try:
            start = int(request.query.get("start", ""))
        except ValueError:
            raise web.HTTPNotFound() from None
        with model.lock:
            cell = model.status.cells.get((profile.id, start)) if profile else None
        if profile is None or cell is None or cell.record is None:
            raise web.HTTPNotFound()
        try:
            payload = renderers[profile.id].render(cell.record)
            body, content_type = payload.body.decode(), payload.content_type
        except UnrenderableRecord as exc:
            body, content_type = str(exc), "text/plain"
        if content_type.startswith("application/json"):
            body = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
        return web.Response(text=cell_html(profile, cell, body, content_type), content_type="text/html")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if model.problem is not None:
            return web.Response(status=503, text=f"not ready: {model.problem}\n")
        if not model.caught_up:
            return web.Response(status=503, text="not ready: reading the topics to their end\n")
        return web.Response(text="ready\n")

    async def root(_: web.Request) -> web.Response:
        raise web.HTTPFound("/status")

    app = web.Application(middlewares=[guard])
    app.router.add_get("/", root)
    app.router.add_get("/status", status)
    app.router.add_get("/status/cell", status_cell)
    app.router.add_get("/api/v1/intervals", intervals)
    app.router.add_get("/api/v1/aggregates", aggregates)
    app.router.add_get("/api/v1/profiles", profiles_list)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
