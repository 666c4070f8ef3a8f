"""The worker's log says what an operator needs: Faust's per-batch buffer chatter is DEBUG."""

from __future__ import annotations

import logging

import pytest

from streamvane.commands.worker import demote_buffer_chatter


@pytest.mark.parametrize("debug", [False, True])
def test_producer_buffer_chatter_is_demoted_to_debug(caplog: pytest.LogCaptureFixture, debug: bool) -> None:
    logger = logging.getLogger("faust.transport.producer")
    logger.addFilter(demote_buffer_chatter)
    try:
        with caplog.at_level(logging.DEBUG if debug else logging.INFO, logger="faust.transport.producer"):
            logger.warning("producer buffer full size 480")
            logger.info("producer flush took 0.0099")
            logger.warning("something else")
    finally:
        logger.removeFilter(demote_buffer_chatter)
    levels = [(r.getMessage().split(" ")[0:2], r.levelname) for r in caplog.records]
    expected = [(["something", "else"], "WARNING")]
    if debug:
        expected = [(["producer", "buffer"], "DEBUG"), (["producer", "flush"], "DEBUG"), *expected]
    assert levels == expected
