"""Issue 10 §4: server faults against a real local server, seen on a device through the Engine.

Each test breaks the simulator on 127.0.0.1 in one way and checks that nothing
crashes, that the device says what is going on (``disconnected``,
``auth_failed``) and that the right state comes back with the server. Tests
about waiting times run on the virtual clock (:mod:`harness.vclock`), so a
60 s ``auth_retry`` or a 429's ``Retry-After`` costs nothing and is measured
exactly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.pipeline.frame import Frame
from bridge.pipeline.model import ConnectionState, GlobalState
from bridge.simulator import STATUS_PATH, STREAM_PATH, Fault, SimAgent, SimServer
from harness.procs import agentlight_command, read_records
from harness.vclock import gaps, run_virtual, vloop
from tests.conftest import FAST, eventually
from tests.rig import Rig, start_rig, stream_back_off

PP_LOG = "agentlight.sources.pocketpaw"


@pytest.fixture
async def rigs() -> AsyncIterator[list[Rig]]:
    """Rigs a test started; stopped (and checked for crashes) when it ends."""
    started: list[Rig] = []
    yield started
    for rig in started:
        if not rig.task.done():
            await rig.finish()


async def bridge(rigs: list[Rig], url: str, **options: Any) -> Rig:
    rig = await start_rig(url, **{**FAST, **options})
    rigs.append(rig)
    return rig


def on_tool(tool: str) -> Callable[[Frame], bool]:
    """A session's tool is the focus: its label is the tool's name."""
    return lambda f: f.focus is not None and f.look.label == tool


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the server dies, resets, goes quiet -------------------------------------------------


async def test_server_dies_mid_frame_and_comes_back(agent: SimAgent, rigs: list[Rig]) -> None:
    async with SimServer(agent, debounce=0.01, keepalive=30) as server:
        rig = await bridge(rigs, server.url)
        agent.agent_start("websocket:a")
        await rig.shows("active")
        mark = rig.mark()
        # Half a frame on the live stream, then the process is gone.
        await server.send_raw(b'event: status\ndata: {"global": {"sta')
        await server.stop()
        down = await rig.shows("disconnected", start=mark)
        assert down.focus is None and not down.status.sessions  # nothing stale is shown
        agent.tool_start("websocket:a", "bash")
        mark = rig.mark()
        await server.start()
        await rig.shows("active", start=mark, where=on_tool("bash"))
    await rig.finish()
    assert rig.states()[-3:] == ["active", "disconnected", "active"]


async def test_reconnect_gets_half_a_frame_then_a_dead_socket(
    agent: SimAgent, server: SimServer, rigs: list[Rig]
) -> None:
    rig = await bridge(rigs, server.url)
    agent.agent_start("websocket:a")
    await rig.shows("active")
    mark = rig.mark()
    server.faults.append(Fault("die_mid_frame", path=STREAM_PATH))
    await server.drop_streams()
    await rig.shows("disconnected", start=mark)
    agent.ask_user_question("websocket:a")
    await rig.shows(
        "active", start=mark, where=lambda f: f.status.sessions[0].state == "waiting_for_user"
    )
    await rig.finish()
    assert server.requests[STREAM_PATH] == 3  # first, the one that died, the one after


async def test_connection_reset_shows_disconnected_until_the_server_answers(
    agent: SimAgent, server: SimServer, rigs: list[Rig]
) -> None:
    rig = await bridge(rigs, server.url)
    await rig.shows("idle")
    mark = rig.mark()
    # Resets for every request, the fallback snapshot included.
    server.faults.extend(Fault("reset") for _ in range(4))
    await server.drop_streams()
    frame = await rig.shows("disconnected", start=mark)
    assert frame.status.sources[0].detail  # says why
    agent.agent_start("discord:b")
    agent.tool_start("discord:b", "web_search")
    await rig.shows("active", start=mark, where=on_tool("web_search"))
    assert not server.faults  # every reset was tried, none crashed anything
    await rig.finish()


async def test_half_frame_then_silence_is_caught_by_the_stale_window(
    agent: SimAgent, rigs: list[Rig]
) -> None:
    async with SimServer(agent, debounce=0.01, keepalive=30) as server:
        server.faults.append(Fault("half_frame", path=STREAM_PATH))
        rig = await bridge(rigs, server.url, stale_after=0.2)
        await rig.shows("idle")
        # The stream is stuck mid-frame: this change can only arrive via the
        # snapshot the stale check reads, or the stream it reconnects.
        agent.agent_start("websocket:n")
        await rig.shows("active")
        await eventually(lambda: server.requests[STREAM_PATH] >= 2)
        agent.tool_start("websocket:n", "python")
        await rig.shows("active", where=on_tool("python"))  # the new stream works
        await rig.finish()
    assert "disconnected" not in rig.states()  # the snapshot answered: no false alarm
    stale_checks = rig.transport.times(STATUS_PATH)
    assert len(stale_checks) >= 1


async def test_half_frame_with_a_wedged_snapshot_shows_disconnected(
    agent: SimAgent, rigs: list[Rig]
) -> None:
    async with SimServer(agent, debounce=0.01, keepalive=30) as server:
        server.faults.append(Fault("half_frame", path=STREAM_PATH))
        server.faults.append(Fault("hang", path=STATUS_PATH))
        rig = await bridge(rigs, server.url, stale_after=0.2, request_timeout=0.2)
        await rig.shows("idle")
        agent.agent_start("websocket:w")  # unseen: the stream is stuck, the snapshot hangs
        frame = await rig.shows("disconnected")
        assert "in time" in (frame.status.sources[0].detail or "")
        await rig.shows("active")
        await rig.finish()
    assert rig.states() == ["connecting", "idle", "disconnected", "active"]


# -- a frame of several MiB ----------------------------------------------------------------


@pytest.mark.parametrize("path", [STREAM_PATH, STATUS_PATH])
async def test_huge_frame_is_rejected_without_being_buffered(
    agent: SimAgent, rigs: list[Rig], path: str, caplog: pytest.LogCaptureFixture
) -> None:
    size = 8 * 1024 * 1024
    limit = 64 * 1024
    polling = path == STATUS_PATH
    async with SimServer(agent, debounce=0.01, keepalive=30, stream_enabled=not polling) as server:
        rig = await bridge(rigs, server.url, max_frame_bytes=limit, stream_retry=30.0)
        await rig.shows("idle")
        mark = rig.mark()
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            with caplog.at_level(logging.WARNING, logger=PP_LOG):
                server.faults.append(Fault("huge_frame", path=path, size=size))
                if not polling:
                    await server.drop_streams()
                await rig.shows("disconnected", start=mark)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        agent.agent_start("websocket:h")
        await rig.shows("active", start=mark)
        await rig.finish()
    # The client (and the server, in this same process) held a few chunks at a time,
    # never the whole frame.
    assert peak - base < size // 4, f"peak {peak - base} bytes while a {size}-byte frame came in"
    rejected = [r for r in caplog.records if "max_frame_bytes" in r.getMessage()]
    assert len(rejected) == 1, [r.getMessage() for r in caplog.records]


# -- error statuses and timeouts, on the virtual clock ------------------------------------


def test_500s_429s_and_403s_in_a_row_back_off_as_told() -> None:
    forbidden = b'{"detail":"Invalid or missing status API key"}'
    faults = [
        Fault("status", status=500),
        Fault("status", status=500),
        Fault("status", status=429, headers={"Retry-After": "7"}),
        Fault("status", status=429),
        Fault("status", status=403, body=forbidden),
        Fault("status", status=403, body=forbidden),
    ]
    rig, frame = stream_back_off(faults, auth_retry=60.0)
    assert frame.status.sources[0].detail == "stream"
    t = rig.transport.times(STREAM_PATH)
    assert len(t) == 7
    waits = gaps(t)
    assert waits[0] == 0.5  # first back-off after a 500
    assert waits[1] == 1.0  # doubled after the second
    assert waits[2] == 7.0  # Retry-After: 7
    assert waits[3] >= 1.0  # 429 without Retry-After: back-off, never under a second
    assert waits[4] == 60.0 and waits[5] == 60.0  # 403: auth_retry, not a hammering loop
    assert rig.states() == ["connecting", "disconnected", "connecting", "auth_failed", "idle"]
    auth = [s for _, s in rig.published if s.connection is ConnectionState.AUTH_FAILED]
    assert len(auth) == 1 and "403" in (auth[0].detail or "")


def test_server_that_accepts_and_never_answers_times_out() -> None:
    async def main() -> tuple[Rig, list[float]]:
        loop = vloop()
        agent = SimAgent(clock=loop.time)
        async with SimServer(agent, debounce=1.0, keepalive=30.0) as server:
            # Every request hangs: streams and the fallback snapshot alike.
            server.faults.extend(Fault("hang") for _ in range(5))
            rig = await start_rig(
                server.url,
                clock=loop.time,
                connect_timeout=0.5,
                request_timeout=1.5,
                reconnect_min=0.5,
                reconnect_max=2.0,
            )
            frame = await rig.shows("disconnected", within=60)
            down_at = loop.time()
            assert "no answer" in (frame.status.sources[0].detail or "")
            agent.agent_start("websocket:late")
            await rig.shows("active", within=60)
            await rig.finish()
            return rig, [down_at]

    rig, (down_at,) = run_virtual(main)
    # The first attempt gave up after connect_timeout + request_timeout, not later.
    assert down_at == pytest.approx(2.0)
    assert rig.states() == ["connecting", "disconnected", "active"]
    paths = [p for _, p in rig.transport.sent]
    assert paths.count(STATUS_PATH) >= 1  # tried the snapshot after three failures


# -- stopping while backing off --------------------------------------------------------------


async def test_engine_stop_during_back_off_is_prompt(rigs: list[Rig]) -> None:
    rig = await bridge(rigs, f"http://127.0.0.1:{dead_port()}", reconnect_min=30, reconnect_max=60)
    await rig.shows("disconnected")
    # A hang guard far below the 30 s back-off: the stop does not wait it out.
    # How fast it stops is measured in benchmarks (cli.stop.sigterm), not asserted here.
    await rig.finish(within=5.0)
    assert rig.mock.closed_blank is True


async def test_sigterm_while_backing_off_exits_cleanly(tmp_path: Path) -> None:
    record = tmp_path / "record.jsonl"
    config = tmp_path / "cfg.toml"
    config.write_text(
        f"""
[[sources]]
type = "pocketpaw"
url = "http://127.0.0.1:{dead_port()}"
reconnect_min = 30.0
reconnect_max = 60.0

[[devices]]
type = "record"
path = "{record}"
""",
        "utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETPAW_")}
    proc = await asyncio.create_subprocess_exec(
        *agentlight_command(),
        "run",
        "-c",
        str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:

        def shows_disconnected() -> bool:
            return any(r["global"] == "disconnected" for r in read_records(record))

        await eventually(shows_disconnected, within=15)
        proc.send_signal(signal.SIGTERM)
        # A hang guard far below the 30 s back-off; the time itself is a benchmark.
        async with asyncio.timeout(10.0):
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    stderr = (await proc.stderr.read()).decode()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    states = [r["global"] for r in read_records(record, finished=True)]
    assert states[-1] == GlobalState.DISCONNECTED.value
