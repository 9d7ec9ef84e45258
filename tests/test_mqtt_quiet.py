"""paho's own log lines (an ERROR for every connection a restarting broker resets) are
debug lines: the broker link says one warning of ours per episode instead."""

from __future__ import annotations

import logging

import pytest

from bridge.net.mqtt import paho_logger


@pytest.mark.parametrize("level", [logging.ERROR, logging.WARNING, logging.INFO])
def test_paho_lines_are_debug_lines(level: int, caplog: pytest.LogCaptureFixture) -> None:
    logger = paho_logger()
    assert paho_logger() is logger and len(logger.filters) == 1  # one filter, however often
    caplog.set_level(logging.INFO)
    logger.log(level, "failed to receive on socket: [Errno 104] Connection reset by peer")
    assert caplog.records == []  # not even at info: nothing of paho's below debug
    caplog.set_level(logging.DEBUG, logger="agentlight.mqtt")
    logger.log(level, "failed to receive on socket: [Errno 104] Connection reset by peer")
    assert [(r.levelno, r.name) for r in caplog.records] == [
        (logging.DEBUG, "agentlight.mqtt.paho")
    ]
