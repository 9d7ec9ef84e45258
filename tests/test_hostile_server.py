"""Issue 21 §4-6: a hostile or broken server, over real HTTP on 127.0.0.1.

Each test attacks one class of problem: streams that never finish a frame,
session floods, odd ``Retry-After`` values, a session stuck in error. Timing
runs on the virtual clock (:mod:`harness.vclock`), so minutes cost nothing and
are measured exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable

import pytest

from bridge.pipeline.model import ConnectionState, SourceStatus
from bridge.simulator import STATUS_PATH, STREAM_PATH, Fault, SimAgent, SimServer
from bridge.sources.pocketpaw.parse import fingerprint, parse_capped
from bridge.sources.pocketpaw.state import PocketPawState
from harness.vclock import gaps, run_virtual, vloop
from tests.conftest import RunSource, eventually
from tests.opcount import Key, growth
from tests.rig import Rig, start_rig, stream_back_off

PP_LOG = "agentlight.sources.pocketpaw"


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and text in r.getMessage()
    ]


# -- §4: staleness counts complete frames and keepalives, never bytes ----------------------

DRIBBLES = {
    "a data line that never ends": b'event: status\ndata: {"global": {"state": "idle"' + b" " * 64,
    "a comment that never ends": b": keepalive" + b"." * 64,
    "data lines without a blank line": b"data: 1\n",
}


@pytest.mark.parametrize("payload", DRIBBLES.values(), ids=DRIBBLES.keys())
def test_a_stream_dribbling_from_the_start_goes_stale(
    payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> tuple[Rig, float, str]:
        loop = vloop()
        agent = SimAgent(clock=loop.time)
        async with SimServer(agent, debounce=1.0, keepalive=30.0) as server:
            server.faults.append(Fault("dribble", path=STREAM_PATH, payload=payload, interval=0.5))
            rig = await start_rig(
                server.url, clock=loop.time, wall=loop.time, stale_after=10.0, fallback_after=100
            )
            start = loop.time()
            frame = await rig.shows("disconnected", within=60)
            down_after = loop.time() - start
            detail = frame.status.sources[0].detail or ""
            await rig.shows("idle", within=60)  # the next stream is a good one
            await rig.finish()
            return rig, down_after, detail

    with caplog.at_level(logging.INFO, logger=PP_LOG):
        rig, down_after, detail = run_virtual(main)
    # A byte every half second never resets the window: stale at 10 s, not never.
    assert 9.9 < down_after < 11.0
    assert "no complete frame" in detail
    assert len(_warnings(caplog, "no complete frame")) == 1
    assert rig.states() == ["connecting", "disconnected", "idle"]


@pytest.mark.parametrize("payload", DRIBBLES.values(), ids=DRIBBLES.keys())
def test_a_stream_dribbling_after_a_good_frame_goes_stale(
    payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> tuple[Rig, float, int, int]:
        loop = vloop()
        agent = SimAgent(clock=loop.time)
        async with SimServer(agent, debounce=1.0, keepalive=1e6) as server:
            rig = await start_rig(server.url, clock=loop.time, wall=loop.time, stale_after=10.0)
            agent.agent_start("websocket:a")
            await rig.shows("active", within=60)

            async def dribble() -> None:
                for byte in itertools.cycle(payload):
                    await server.send_raw(bytes([byte]))
                    await asyncio.sleep(0.5)

            start = loop.time()
            task = asyncio.create_task(dribble())
            await eventually(lambda: server.requests[STREAM_PATH] == 2, within=60)
            stale_after = loop.time() - start
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await rig.finish()
            return rig, stale_after, server.requests[STATUS_PATH], server.requests[STREAM_PATH]

    with caplog.at_level(logging.INFO, logger=PP_LOG):
        rig, stale_after, gets, _streams = run_virtual(main)
    assert 9.9 < stale_after < 11.5
    assert len(_warnings(caplog, "no complete frame or keepalive for 10 s")) == 1
    assert gets == 1  # the snapshot was checked before reconnecting
    # The session never vanished: the snapshot kept it on show across the reconnect.
    assert rig.states() == ["connecting", "active"]


# -- §5: work per frame is bounded ---------------------------------------------------------


def _status(count: int, state: str = "thinking") -> str:
    sessions = [{"session_key": f"websocket:s{i}", "state": state} for i in range(count)]
    return json.dumps({"global": {"state": "active"}, "sessions": sessions})


async def test_a_session_flood_is_capped_with_one_log_line_and_a_count(
    agent: SimAgent, server: SimServer, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    _, rec = await run_source(server.url, max_sessions=100)
    await rec.wait_state("idle")

    def shown(status: SourceStatus) -> int:
        return len(status.snapshot.sessions) if status.snapshot else 0

    with caplog.at_level(logging.INFO, logger=PP_LOG):
        await server.send_frame(_status(5000))
        flooded = await rec.wait_for(lambda s: shown(s) > 0)
        await server.send_frame(_status(5000, "tool_running"))
        await rec.wait_for(
            lambda s: (
                any(x.state == "tool_running" for x in s.snapshot.sessions[:1])
                if s.snapshot
                else False
            )
        )
        await server.send_frame(_status(3))
        calm = await rec.wait_for(lambda s: shown(s) == 3)
    assert shown(flooded) == 100 and flooded.snapshot is not None
    assert [s.key for s in flooded.snapshot.sessions][:2] == ["websocket:s0", "websocket:s1"]
    assert flooded.detail == "stream; 4900 sessions over max_sessions (100) not shown"
    assert max(shown(s) for s in rec.statuses) == 100
    assert len(_warnings(caplog, "max_sessions")) == 1  # once per flood, not per frame
    assert calm.detail == "stream" and calm.connection is ConnectionState.CONNECTED


async def test_a_flooded_snapshot_is_capped_too(
    agent: SimAgent, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    async with SimServer(agent, stream_enabled=False) as server:
        for i in range(300):
            agent.set_raw_session({"session_key": f"telegram:{i}", "state": "thinking"})
        _, rec = await run_source(server.url, max_sessions=50)
        status = await rec.wait_for(lambda s: s.snapshot is not None)
    assert status.snapshot is not None and len(status.snapshot.sessions) == 50
    assert status.detail == "polling; 250 sessions over max_sessions (50) not shown"


# -- §6: back-off stays honest on odd answers ----------------------------------------------


def test_unusable_retry_after_backs_off_exponentially(caplog: pytest.LogCaptureFixture) -> None:
    odd = ["-5", "0", "nan", "Mon, 01 Jan 1990 00:00:00 GMT", "soon"]
    rig, _ = stream_back_off(
        Fault("status", status=429, headers={"Retry-After": value}) for value in odd
    )
    t = rig.transport.times(STREAM_PATH)
    # Back-off 0.5, 1, 2, 4, 8 with a 429's one-second floor: it grows, never a flat 1 s.
    assert gaps(t) == [1.0, 1.0, 2.0, 4.0, 8.0]


def test_a_session_stuck_in_error_is_reread_at_most_once_per_error_ttl() -> None:
    async def main() -> tuple[int, Rig]:
        loop = vloop()
        # This server keeps errored sessions for good, so every re-read still shows it.
        agent = SimAgent(clock=loop.time, error_ttl=1e9)
        async with SimServer(agent, debounce=1.0, keepalive=5.0) as server:
            rig = await start_rig(
                server.url, clock=loop.time, wall=loop.time, error_ttl=30.0, stale_after=75.0
            )
            agent.agent_start("discord:x")
            agent.error("discord:x", "boom")
            agent.agent_start("websocket:busy")
            await rig.shows("degraded", within=60)
            # Frames every few seconds and keepalives in between, for 300 s.
            for i in range(100):
                agent.tool_start("websocket:busy", f"tool{i}")
                await asyncio.sleep(3.0)
            gets = server.requests[STATUS_PATH]
            await rig.finish()
            return gets, rig

    gets, rig = run_virtual(main)
    # 300 s with the session in error from the start: at most one re-read per 30 s.
    assert 1 <= gets <= 300 // 30 + 1
    assert rig.states()[-1] == "degraded"


def test_reading_and_applying_a_status_frame_is_linear() -> None:
    """Issue 30's "parsing and merging are linear" for the status stream itself: a
    frame parsed against the previous one (each unchanged session keeps its ``since``),
    applied (errored sessions' re-check timers) and fingerprinted, twice the sessions
    costing twice the bytecodes (``tests/opcount.py``)."""
    now = 1_718_000_000.0

    def make(n: int) -> Callable[[], object]:
        states = ("thinking", "tool_running", "error", "waiting_for_user")
        frame = {
            "global": {"state": "active", "active_sessions": n},
            "sessions": [
                {"session_key": Key(f"websocket:{i}"), "state": states[i % 4],
                 "tool_name": "bash", "title": f"t{i}", "duration_seconds": i}
                for i in range(n)
            ],
        }  # fmt: skip
        previous = parse_capped(frame, received_at=now)[0]
        state = PocketPawState(error_ttl=60.0, clock=lambda: now)

        def run() -> None:
            snapshot, _ = parse_capped(frame, received_at=now, previous=previous)
            state.apply(snapshot, from_stream=True)
            state.disagrees(snapshot)
            fingerprint(snapshot)

        return run

    assert growth(make, 500) < 2.2
