"""The PocketPaw source against the built-in simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import pytest

from bridge.pipeline.model import ConnectionState, SessionState
from bridge.simulator import STATUS_PATH, STREAM_PATH, Fault, SimAgent, SimServer, sse
from tests.conftest import RunSource, connected, eventually


def sessions(status) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    snap = status.snapshot
    return [(s.key, s.state.value, s.tool) for s in snap.sessions] if snap else []


async def test_every_state_arrives_over_the_stream(
    agent: SimAgent, server: SimServer, run_source: RunSource
) -> None:
    source, rec = await run_source(server.url)
    assert (await rec.wait_for(lambda s: True)).connection is ConnectionState.CONNECTING
    await rec.wait_state("idle")
    agent.agent_start("websocket:abc", "Help with Python")
    status = await rec.wait_state("active")
    assert sessions(status) == [("websocket:abc", "thinking", None)]
    assert status.snapshot is not None
    assert status.snapshot.sessions[0].title == "Help with Python"
    steps = [
        (
            lambda: agent.tool_start("websocket:abc", "bash"),
            ("websocket:abc", "tool_running", "bash"),
        ),
        (lambda: agent.tool_result("websocket:abc"), ("websocket:abc", "streaming", None)),
        (
            lambda: agent.ask_user_question("websocket:abc"),
            ("websocket:abc", "waiting_for_user", None),
        ),
        (lambda: agent.thinking("websocket:abc"), ("websocket:abc", "thinking", None)),
    ]
    for act, expected in steps:
        act()
        await rec.wait_for(functools.partial(lambda e, s: sessions(s) == [e], expected))
    agent.agent_start("discord:xyz")
    agent.error("discord:xyz", "Rate limit exceeded")
    status = await rec.wait_state("degraded")
    assert status.snapshot is not None
    err = status.snapshot.sessions[1]
    assert (err.channel, err.state, err.error) == (
        "discord",
        SessionState.ERROR,
        "Rate limit exceeded",
    )
    agent.agent_end("websocket:abc")
    await rec.wait_for(lambda s: [k for k, *_ in sessions(s)] == ["discord:xyz"])
    assert server.requests[STREAM_PATH] == 1
    assert source.requests == 1  # one stream, no polling


async def test_keepalives_keep_a_quiet_stream_alive(
    agent: SimAgent, server: SimServer, run_source: RunSource
) -> None:
    # keepalive every 0.1 s, stale after 0.35 s: five keepalives span well past the window.
    source, rec = await run_source(server.url, stale_after=0.35)
    await rec.wait_state("idle")
    await eventually(lambda: source.keepalives >= 5)
    assert server.requests[STREAM_PATH] == 1
    assert all(s.connection is not ConnectionState.DISCONNECTED for s in rec.statuses)


async def test_reconnects_when_the_server_drops_the_stream(
    agent: SimAgent, server: SimServer, run_source: RunSource
) -> None:
    _, rec = await run_source(server.url)
    await rec.wait_state("idle")
    agent.agent_start("websocket:a")
    await rec.wait_state("active")
    mark = rec.mark()
    await server.drop_streams()
    agent.tool_start("websocket:a", "bash")
    await rec.wait_for(
        lambda s: sessions(s) == [("websocket:a", "tool_running", "bash")], start=mark
    )
    assert server.requests[STREAM_PATH] == 2
    # A dropped stream that reconnects at once never shows "disconnected".
    assert all(s.connection is ConnectionState.CONNECTED for s in rec.statuses[mark:])


async def test_survives_a_server_restart_showing_disconnected_meanwhile(
    agent: SimAgent, server: SimServer, run_source: RunSource
) -> None:
    _, rec = await run_source(server.url)
    await rec.wait_state("idle")
    await server.stop()
    status = await rec.wait_state("disconnected")
    assert status.snapshot is None and "connect" in (status.detail or "")
    agent.agent_start("telegram:1")
    agent.tool_start("telegram:1", "web_search")
    mark = rec.mark()
    await server.start()
    status = await rec.wait_for(connected, start=mark)
    assert sessions(status) == [("telegram:1", "tool_running", "web_search")]


async def test_falls_back_to_polling_and_returns_to_the_stream(
    agent: SimAgent, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    async with SimServer(agent, debounce=0.01, keepalive=0.1, stream_enabled=False) as server:
        with caplog.at_level(logging.WARNING, logger="agentlight.sources.pocketpaw"):
            _, rec = await run_source(server.url)
            status = await rec.wait_for(connected)
        assert status.detail == "polling"
        assert any("404" in r.getMessage() and "polling" in r.getMessage() for r in caplog.records)
        agent.agent_start("slack:q")
        agent.ask_user_question("slack:q")
        await rec.wait_for(lambda s: sessions(s) == [("slack:q", "waiting_for_user", None)])
        server.stream_enabled = True
        await rec.wait_for(lambda s: connected(s) and s.detail == "stream")
        assert server.open_streams == 1


async def test_falls_back_to_polling_when_the_stream_keeps_failing(
    agent: SimAgent, server: SimServer, run_source: RunSource
) -> None:
    for _ in range(3):
        server.faults.append(Fault("status", status=502, path=STREAM_PATH))
    _, rec = await run_source(server.url, fallback_after=3)
    await rec.wait_for(lambda s: connected(s) and s.detail == "polling")
    await rec.wait_for(lambda s: connected(s) and s.detail == "stream")


async def test_missing_status_key_and_wrong_key_say_which(
    agent: SimAgent, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    async with SimServer(agent, api_key="k-sekrit", debounce=0.01) as server:
        with caplog.at_level(logging.DEBUG):
            _, missing = await run_source(server.url)
            status = await missing.wait_state("auth_failed")
            assert "requires a status API key (403)" in (status.detail or "")
            _, wrong = await run_source(server.url, api_key="nope-wrong")
            status = await wrong.wait_state("auth_failed")
            assert "rejected the status API key (403)" in (status.detail or "")
            _, right = await run_source(server.url, api_key="k-sekrit")
            await right.wait_state("idle")
        text = caplog.text + "".join(repr(s) for s in right.statuses)
        assert "k-sekrit" not in text and "nope-wrong" not in text
        assert any("403" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


async def test_key_from_environment(
    agent: SimAgent, run_source: RunSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POCKETPAW_STATUS_API_KEY", "env-key")
    async with SimServer(agent, api_key="env-key", debounce=0.01) as server:
        _, rec = await run_source(server.url)
        await rec.wait_state("idle")


async def test_dashboard_token_for_non_local_access(
    agent: SimAgent, run_source: RunSource, tmp_path: Path
) -> None:
    async with SimServer(agent, token="tok-123", api_key="k", debounce=0.01) as server:
        _, without = await run_source(server.url, api_key="k")
        status = await without.wait_state("auth_failed")
        assert "dashboard token" in (status.detail or "") and "401" in (status.detail or "")
        token_file = tmp_path / "access_token"
        token_file.write_text("tok-123\n")
        _, with_file = await run_source(server.url, api_key="k", token_file=str(token_file))
        await with_file.wait_state("idle")
        _, wrong = await run_source(server.url, api_key="k", token="bad")
        status = await wrong.wait_state("auth_failed")
        assert "rejected the dashboard token" in (status.detail or "")


async def test_auth_failure_recovers_when_fixed_on_the_server(
    agent: SimAgent, run_source: RunSource
) -> None:
    async with SimServer(agent, api_key="k", debounce=0.01) as server:
        server._api_key = "k"
        _, rec = await run_source(server.url, api_key="old")
        await rec.wait_state("auth_failed")
        server._api_key = "old"
        await rec.wait_state("idle")


async def test_malformed_and_unknown_frames_are_logged_and_skipped(
    agent: SimAgent, server: SimServer, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    _, rec = await run_source(server.url)
    await rec.wait_state("idle")

    def malformed() -> int:
        return sum("malformed" in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.WARNING, logger="agentlight.sources.pocketpaw"):
        # One at a time: frames read together are superseded by the newest, unparsed.
        await server.send_frame("{not json")
        await eventually(lambda: malformed() == 1)
        await server.send_frame(json.dumps({"global": 3}))
        await eventually(lambda: malformed() == 2)
        await server.send_raw(b"event: status\ndata: [1, 2]\n\n")
        await eventually(lambda: malformed() == 3)
        await server.send_frame(json.dumps({"hello": "world"}), event="other")
        agent.set_raw_session(
            {"session_key": "websocket:z", "state": "compacting", "tool_name": None, "mood": 1}
        )
        status = await rec.wait_for(lambda s: bool(sessions(s)))
    assert status.connection is ConnectionState.CONNECTED
    assert status.snapshot is not None
    assert status.snapshot.sessions[0].state is SessionState.UNKNOWN
    assert status.snapshot.sessions[0].raw_state == "compacting"
    assert malformed() == 3
    assert server.requests[STREAM_PATH] == 1  # bad frames never cost the connection


async def test_errored_session_dropped_silently_is_reconciled(run_source: RunSource) -> None:
    agent = SimAgent(error_ttl=0.3)
    async with SimServer(agent, debounce=0.01, keepalive=30) as server:
        _, rec = await run_source(server.url, error_ttl=0.3)
        await rec.wait_state("idle")
        agent.agent_start("discord:x")
        agent.error("discord:x", "boom")
        mark = rec.mark()
        await rec.wait_state("degraded", start=mark)
        # The server drops the session with no frame; only a GET can tell.
        status = await rec.wait_state("idle", start=mark, within=3)
        assert status.connection is ConnectionState.CONNECTED
        assert server.requests[STREAM_PATH] == 1
        assert server.requests[STATUS_PATH] >= 1


async def test_silent_half_frame_is_caught_by_the_stale_window(
    agent: SimAgent, run_source: RunSource
) -> None:
    async with SimServer(agent, debounce=0.01, keepalive=30) as server:
        server.faults.append(Fault("half_frame", path=STREAM_PATH))
        _, rec = await run_source(server.url, stale_after=0.2)
        await rec.wait_state("idle")
        await eventually(lambda: server.requests[STREAM_PATH] >= 2)
        assert server.requests[STATUS_PATH] >= 1  # checked the snapshot before reconnecting
        agent.agent_start("websocket:n")
        await rec.wait_state("active")


@pytest.mark.parametrize("retry_after", ["0.05", None])
async def test_rate_limit_backs_off_then_connects(
    agent: SimAgent,
    server: SimServer,
    run_source: RunSource,
    retry_after: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    server.faults.append(
        Fault(
            "status",
            status=429,
            headers=headers,
            path=STREAM_PATH,
            body=b'{"detail":"Too Many Requests"}',
        )
    )
    with caplog.at_level(logging.WARNING, logger="agentlight.sources.pocketpaw"):
        _, rec = await run_source(server.url)
        await rec.wait_state("idle")
    assert any("429" in r.getMessage() for r in caplog.records)
    assert not any(s.connection is ConnectionState.DISCONNECTED for s in rec.statuses)


def running_tool_body(tool: str) -> str:
    """A status body: one session, websocket:b, running ``tool``."""
    session = {"session_key": "websocket:b", "state": "tool_running", "tool_name": tool}
    return json.dumps({"global": {"state": "active"}, "sessions": [session]})


async def test_a_burst_read_at_once_parses_only_its_newest_frame(
    agent: SimAgent, server: SimServer, run_source: RunSource
) -> None:
    source, rec = await run_source(server.url)
    await rec.wait_state("idle")
    before = source.state.frames

    # 500 frames in one write: the source reads them together, so 499 are superseded.
    await server.send_raw(b"".join(sse.frame(running_tool_body(f"t{i}")) for i in range(500)))
    status = await rec.wait_for(lambda s: sessions(s) == [("websocket:b", "tool_running", "t499")])
    assert status.connection is ConnectionState.CONNECTED
    assert source.state.frames - before < 5
    shown = {tool for s in rec.statuses for _, _, tool in sessions(s)}
    assert len(shown) < 5  # the last one and perhaps one per 64 KiB read


async def test_a_burst_of_chunks_read_at_once_parses_only_its_newest_frame(
    agent: SimAgent, server: SimServer, run_source: RunSource
) -> None:
    source, rec = await run_source(server.url)
    await rec.wait_state("idle")
    before = source.state.frames

    # As uvicorn writes them: a chunk per frame. Written with no pause, they are read
    # together, and httpx hands them over one by one without waiting: one parse.
    for i in range(500):
        await server.send_frame(running_tool_body(f"t{i}"))
    await rec.wait_for(lambda s: sessions(s) == [("websocket:b", "tool_running", "t499")])
    assert source.state.frames - before < 5
