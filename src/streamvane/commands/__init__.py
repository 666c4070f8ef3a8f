"""CLI subcommands, one module each; ``register_all`` adds them to the ``streamvane`` parser."""

from __future__ import annotations

import argparse

from streamvane.commands import (
    close_backfill,
    compute,
    demo,
    dispatch,
    dlq,
    ingest,
    profiles,
    reconcile,
    replay,
    serve,
    simulate,
    sla,
    worker,
)


def register_all(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate.register(sub)
    compute.register(sub)
    demo.register(sub)
    worker.register(sub)
    replay.register(sub)
    profiles.register(sub)
    dispatch.register(sub)
    dlq.register(sub)
    close_backfill.register(sub)
    reconcile.register(sub)
    sla.register(sub)
    serve.register(sub)
    ingest.register(sub)
