"""What ``run`` logs about a PocketPaw it cannot use: one line per episode, true when printed.

No server: one warning (the status side's), not a second from the event bus
saying "the status stream goes on" while it fails too. A server that is not
PocketPaw (404 everywhere): no "polling" line for polling that fails at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from bridge.pipeline.model import ConnectionState
from bridge.simulator import SimAgent, SimServer
from tests.conftest import RunSource, eventually

LOGGER = "agentlight.sources.pocketpaw"


@contextlib.asynccontextmanager
async def not_found_server() -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 that answers 404 to everything (not PocketPaw)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):  # the client left
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_no_server_is_one_warning_and_the_event_bus_says_nothing_untrue(
    run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    source, rec = await run_source("http://127.0.0.1:9", events="on")
    await rec.wait_state("disconnected")
    bus = source._bus
    assert bus is not None
    await eventually(lambda: bus.requests >= 2, 10)  # it failed and retried meanwhile
    lines = warnings(caplog)
    assert len(lines) == 1 and lines[0].startswith("pp: cannot reach http://127.0.0.1:9")
    assert not any("goes on" in r.getMessage() for r in caplog.records)


async def test_a_server_that_is_not_pocketpaw_gets_no_polling_line(
    run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with not_found_server() as url:
        _, rec = await run_source(url)
        status = await rec.wait_state("disconnected")
        await asyncio.sleep(0.3)  # the bus's 404 and a retry or two come meanwhile
    assert "no status API" in (status.detail or "")
    assert not any("polling" in line for line in warnings(caplog))
    # It answered: one line saying what it answered, never "cannot reach".
    (line,) = warnings(caplog)
    assert line.startswith(f"pp: no status API at {url}/api/v1/agent/status (404)")
    assert not any("event bus (404)" in r.getMessage() and r.levelno >= logging.INFO
                   for r in caplog.records)  # fmt: skip


async def test_polling_that_works_is_said_once_and_the_bus_says_the_truth(
    run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with SimServer(SimAgent(), debounce=0.01, stream_enabled=False) as server:
        _, rec = await run_source(server.url, events="on")
        await rec.wait_for(lambda s: s.connection is ConnectionState.CONNECTED)
        await asyncio.sleep(0.2)
    polling = [line for line in warnings(caplog) if "polling" in line]
    assert len(polling) == 1 and "no status stream (404)" in polling[0]
    for r in caplog.records:
        assert "status stream goes on" not in r.getMessage()
        assert "following the status stream alone" not in r.getMessage()
