"""``agentlight status`` names each source's own cause and its fix, never a stock guess.

A refused connection, a wrong key, a missing key and a server that never
answers each give their own line, naming the source; only the last says
"no answer within". And the first line says each thing once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridge.commands.status import read_status, render, why_not
from bridge.infra.config import parse_config
from bridge.simulator import SimAgent, SimServer


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A server on 127.0.0.1 that takes the connection and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def causes(sources: list[dict[str, Any]], within: float = 5.0) -> list[str]:
    config = parse_config({"sources": sources, "devices": [{"type": "terminal"}]}, file="t")
    status = await read_status(config, answer_within=within, stop=asyncio.Event())
    return why_not(config, status, within)


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("POCKETPAW_STATUS_API_KEY", "POCKETPAW_TOKEN", "H_API_KEY"):
        monkeypatch.delenv(var, raising=False)


async def test_a_refused_connection_says_so_at_once_with_what_to_try() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    lines = await causes([{"type": "pocketpaw", "url": "http://127.0.0.1:9"}])
    assert loop.time() - start < 4  # it did not wait out the timeout
    assert len(lines) == 1
    assert lines[0].startswith("pocketpaw: cannot reach http://127.0.0.1:9: cannot connect")
    assert "is PocketPaw running (`pocketpaw serve`)?" in lines[0]
    assert "within" not in lines[0] and "Still trying" not in lines[0]


async def test_a_wrong_key_is_a_wrong_key() -> None:
    async with SimServer(SimAgent(), api_key="k-right", debounce=0.01) as server:
        lines = await causes([{"type": "pocketpaw", "url": server.url, "api_key": "k-wrong"}])
    assert len(lines) == 1
    assert "rejected the status API key (403)" in lines[0]
    assert "k-wrong" not in lines[0] and "is PocketPaw running" not in lines[0]


async def test_a_server_that_never_answers_is_no_answer_within_the_timeout() -> None:
    async with silent_server() as url:
        lines = await causes([{"type": "pocketpaw", "url": url, "events": "off"}], within=0.5)
    assert lines == [f"pocketpaw: no answer from {url} within 0.5 s"]


async def test_the_source_that_failed_is_the_one_named() -> None:
    """PocketPaw answers; the AgP source has no key: one line, about AgP."""
    async with SimServer(SimAgent(), debounce=0.01) as server:
        lines = await causes(
            [
                {"type": "pocketpaw", "url": server.url},
                {"type": "agp", "name": "hcompany", "sessions": ["s1"]},
            ]
        )
    assert len(lines) == 1
    assert lines[0].startswith("hcompany: no AgP API key: set api_key")


@pytest.mark.parametrize(
    ("sources", "expect"),
    [
        ([{"type": "pocketpaw", "url": "http://127.0.0.1:9"}], "cannot reach the agent"),
        (
            [{"type": "agp", "sessions": ["s1"]}],
            "not let in: a key or token is missing or refused",
        ),
    ],
)
async def test_the_first_line_says_each_thing_once(
    sources: list[dict[str, Any]], expect: str
) -> None:
    import argparse

    config = parse_config({"sources": sources, "devices": [{"type": "terminal"}]}, file="t")
    status = await read_status(config, answer_within=5, stop=asyncio.Event())
    args = argparse.Namespace(json=False, format=None)
    assert render(status, args).splitlines()[0] == expect


def _reading(state: str, tokens: int, since: float) -> Any:
    from bridge.pipeline.model import AgentStatus, SourceStatus
    from tests.frames import make_session

    session = make_session("websocket:a", state, title="Fix it", since=since,
                           tokens=(tokens, tokens), source="pocketpaw")  # fmt: skip
    return AgentStatus.fold((SourceStatus.connected("pocketpaw", (session,)),))


@pytest.mark.parametrize("shape", ["plain", "format", "json"])
def test_watch_prints_a_reading_only_when_what_it_prints_changes(shape: str) -> None:
    import argparse
    import io
    import time

    from bridge.commands.status import Watcher

    out = io.StringIO()
    fmt = "{state} {label}" if shape == "format" else None
    watch = Watcher(argparse.Namespace(json=shape == "json", format=fmt), out)
    now = time.time()
    watch(_reading("thinking", 100, now - 5))
    watch(_reading("thinking", 100, now - 5))  # the same again
    if shape != "json":  # JSON shows tokens: a change there is a change printed
        watch(_reading("thinking", 250, now - 3))  # tokens and time only: not shown
    watch(_reading("streaming", 250, now))
    readings = [b for b in out.getvalue().split("\n\n" if shape == "plain" else "\n") if b]
    assert len(readings) == 2, out.getvalue()
