"""The worker's periodic progress line: long work shows progress, and a stage that stops moving
(no new bundles, no partials, a watermark standing still) is visible in the log without a
metrics scraper."""

from __future__ import annotations

import logging

from streamvane.topology.app import Topology

log = logging.getLogger(__name__)


def register(topology: Topology) -> None:
    every_s = topology.settings.worker.progress_log_s
    if every_s <= 0:
        return

    @topology.app.timer(every_s)  # type: ignore[untyped-decorator]
    async def progress() -> None:
        log.info("progress: %s", topology.metrics.summary())
