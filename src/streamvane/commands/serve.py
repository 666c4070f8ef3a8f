"""``streamvane serve``: the status page, the read API and probes (:mod:`streamvane.web.app`),
from the topics of the configured app (feed records, ledger, reconciliation, partials)."""

from __future__ import annotations

import argparse
import logging
import sys

from streamvane.broker.preflight import open_kafka
from streamvane.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="serve the status page and the read API over the computed intervals")
    p.add_argument("--port", type=int, help="overrides serve.port")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from streamvane.feeds.secrets import SecretUnavailableError
    from streamvane.web.app import LagWatcher, create_app
    from streamvane.web.read_model import ReadModel, ViewTopics

    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = settings.serve
    if s.token is None:
        sys.stderr.write("serve: serve.token is required: a secret reference ({env: NAME} or {file: PATH})\n")
        return 2
    try:
        token = s.token.resolve().reveal()
    except SecretUnavailableError as exc:
        sys.stderr.write(f"serve: serve.token: {exc}\n")
        return 2
    t, kafka = settings.topics, open_kafka(settings.kafka)
    model = ReadModel(
        kafka, ViewTopics(t.feed_records, t.delivery_ledger, t.reconciliation, settings.partials_topic)
    )
    lags = LagWatcher(
        kafka, [(settings.ingest_group, t.events), (settings.dispatcher.group_id, t.feed_records)]
    )
    model.start()
    lags.start()
    app = create_app(settings.profiles, model, token, settings.kpi, lags.lags, s.intervals_shown)
    port = args.port or s.port
    sys.stderr.write(
        f"serve: status page http://{s.host}:{port}/status, read API http://{s.host}:{port}/api/v1/\n"
    )
    web.run_app(app, host=s.host, port=port, print=None, access_log=None)
    return 0
