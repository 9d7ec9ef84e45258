"""Issue 18: the PocketPaw event-bus fast path, against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from bridge.pipeline.frame import Frame
from bridge.pipeline.model import ConnectionState, SourceStatus
from bridge.simulator import EVENTS_PATH, STREAM_PATH, Fault, SimAgent, SimServer
from bridge.sources.pocketpaw.events import BusEvent, Overlay
from bridge.sources.pocketpaw.options import Options, is_local
from bridge.sources.pocketpaw.source import PocketPawSource
from harness.vclock import run_virtual, vloop
from tests.conftest import RunSource, eventually
from tests.frames import make_session, make_snapshot
from tests.rig import start_bus_rig

PP_LOG = "agentlight.sources.pocketpaw"
NEVER = 1e6  # a status stream that sends its first snapshot and nothing after


def sessions(status: SourceStatus) -> list[tuple[str, str, str | None]]:
    snap = status.snapshot
    return [(s.key, s.state.value, s.tool) for s in snap.sessions] if snap else []


async def test_every_change_arrives_by_the_bus_alone(
    agent: SimAgent, run_source: RunSource
) -> None:
    async with SimServer(agent, debounce=NEVER, keepalive=0.1) as server:
        source, rec = await run_source(server.url, events="auto")
        await rec.wait_state("idle")
        await eventually(lambda: source.events_live)
        key = "websocket:a"
        steps = [
            (lambda: agent.agent_start(key), [(key, "thinking", None)]),
            (lambda: agent.tool_start(key, "bash"), [(key, "tool_running", "bash")]),
            (lambda: agent.tool_result(key), [(key, "streaming", None)]),
            # A question stays open past later events (tests/test_answer_pocketpaw.py).
            (lambda: agent.thinking(key), [(key, "thinking", None)]),
            (lambda: agent.tool_start(key, "grep"), [(key, "tool_running", "grep")]),
            (lambda: agent.error(key, "boom"), [(key, "error", None)]),
            # An error event is the server's own: it goes with the session, as there.
            (lambda: agent.agent_end(key), []),
        ]
        for act, expected in steps:
            mark = rec.mark()
            act()
            await rec.wait_for(lambda s, e=expected: sessions(s) == e, start=mark)  # type: ignore[misc]
        assert source.state.frames == 1  # the status stream only sent its first snapshot
        assert server.requests[STREAM_PATH] == 1
        assert rec.last.global_state.value == "idle"


def titled(status: SourceStatus) -> list[tuple[str, str, str | None]]:
    snap = status.snapshot
    return [(s.key, s.state.value, s.title) for s in snap.sessions] if snap else []


async def test_a_new_run_of_a_known_chat_has_its_title_from_its_first_frame(
    agent: SimAgent, run_source: RunSource
) -> None:
    key = "websocket:a"
    # Titles come from the server's memory by key; the bus event that starts a run has none.
    agent.agent_start(key, "Fix the build")
    async with SimServer(agent, debounce=NEVER, keepalive=0.1) as server:
        source, rec = await run_source(server.url, events="on")
        await rec.wait_for(lambda s: titled(s) == [(key, "thinking", "Fix the build")])
        await eventually(lambda: source.events_live)
        mark = rec.mark()
        agent.agent_end(key)
        await rec.wait_for(lambda s: titled(s) == [], start=mark)
        mark = rec.mark()
        agent.agent_start(key)  # the next message in the same chat
        first = await rec.wait_for(lambda s: bool(titled(s)), start=mark)
        assert titled(first) == [(key, "thinking", "Fix the build")]
        assert source.state.frames == 1  # by the bus alone: no snapshot came in between


def test_a_title_outlives_its_session_however_the_session_went() -> None:
    def start(key: str, at: float) -> BusEvent:
        return BusEvent("agent_start", key, {"session_key": key}, at, at)

    def titles(overlay: Overlay) -> list[str | None]:
        view = overlay.view(0.0)
        return [s.title for s in view.sessions] if view else []

    overlay = Overlay("pp", error_ttl=30.0, max_sessions=10)
    overlay.rebase(make_snapshot(sessions=[make_session("websocket:a", title="Fix the build")]), 1)
    # Gone from the next snapshot (the run ended between two of them): the title stays known.
    overlay.rebase(make_snapshot("idle"), 2)
    overlay.add(start("websocket:a", 3))
    assert titles(overlay) == ["Fix the build"]
    # Gone while the stream was down, and started again before the next snapshot.
    overlay.rebase(make_snapshot(sessions=[make_session("websocket:b", title="Answer mail")]), 4)
    overlay.forget()
    overlay.add(start("websocket:b", 6))
    overlay.rebase(make_snapshot("idle"), 5)  # taken before that start: replayed on top
    assert titles(overlay) == ["Answer mail"]


def test_a_snapshot_replaces_what_events_built_and_newer_events_stay() -> None:
    def tools(frame: Frame) -> list[tuple[str, str, str | None, str | None]]:
        return [(s.key, s.state.value, s.tool, s.title) for s in frame.status.sessions]

    async def main() -> None:
        loop = vloop()
        agent = SimAgent(clock=loop.time)
        async with SimServer(agent, debounce=NEVER, keepalive=30.0) as server:
            rig = await start_bus_rig(server.url, loop.time)
            agent.agent_start("websocket:a")
            agent.tool_start("websocket:a", "bash")
            want: list[tuple[str, str, str | None, str | None]]
            want = [("websocket:a", "tool_running", "bash", None)]
            await rig.shows("active", where=lambda f: tools(f) == want)
            await asyncio.sleep(1.0)  # virtual: the status stream's usual lag
            # The server's truth says otherwise: the snapshot wins, no session shown twice.
            truth = {"session_key": "websocket:a", "state": "streaming", "title": "From the server"}
            body = json.dumps({"global": {"state": "active"}, "sessions": [truth]})
            mark = rig.mark()
            await server.send_frame(body)
            want = [("websocket:a", "streaming", None, "From the server")]
            await rig.shows("active", start=mark, where=lambda f: tools(f) == want)
            # An event after the snapshot goes on top of it.
            mark = rig.mark()
            agent.tool_start("websocket:a", "grep")
            want = [("websocket:a", "tool_running", "grep", "From the server")]
            await rig.shows("active", start=mark, where=lambda f: tools(f) == want)
            await rig.finish()

    run_virtual(main)


def _first_error(status: SourceStatus) -> str | None:
    found = [s.error for s in status.snapshot.sessions] if status.snapshot else []
    return found[0] if found else None


def test_a_backend_failure_shows_as_error_for_error_ttl() -> None:
    async def main() -> tuple[list[tuple[float, str, str | None]], float]:
        loop = vloop()
        agent = SimAgent(clock=loop.time)
        async with SimServer(agent, debounce=1.0, keepalive=30.0) as server:
            rig = await start_bus_rig(server.url, loop.time, error_ttl=30.0)
            agent.agent_start("websocket:a")
            agent.tool_start("websocket:a", "llm")
            await rig.shows("active", within=60)
            failed_at = loop.time()
            # The stock loop: tool_result named "agent", status error; the run ends after.
            agent.backend_failure("websocket:a", "API error 529: overloaded")
            await rig.shows("degraded", within=60)
            mark = rig.mark()
            agent.agent_end("websocket:a")
            await rig.shows("idle", within=120, start=mark)
            await rig.finish()
            seen = [
                (t, s.global_state.value, _first_error(s))
                for t, s in rig.published
                if s.connection is ConnectionState.CONNECTED
            ]
            return seen, failed_at

    seen, failed_at = run_virtual(main)
    degraded = [(t, err) for t, state, err in seen if state == "degraded"]
    assert degraded and degraded[0][1] == "API error 529: overloaded"
    idle_at = next(t for t, state, _ in seen if state == "idle" and t > failed_at)
    # The status API never showed the failure, and the session ended at once: still
    # the error stays for error_ttl, then goes.
    assert 30.0 <= idle_at - failed_at < 31.0


async def test_a_new_run_replaces_a_failure_and_alerts_show_too(
    agent: SimAgent, run_source: RunSource
) -> None:
    async with SimServer(agent, debounce=0.01, keepalive=0.1) as server:
        source, rec = await run_source(server.url, events="on")
        await rec.wait_state("idle")
        await eventually(lambda: source.events_live)
        agent.agent_start("websocket:a")
        agent.tool_start("websocket:a", "llm")
        agent.backend_failure("websocket:a", "backend down")
        agent.agent_end("websocket:a")
        status = await rec.wait_state("degraded")
        assert sessions(status) == [("websocket:a", "error", None)]
        mark = rec.mark()
        agent.agent_start("websocket:a")
        await rec.wait_for(lambda s: sessions(s) == [("websocket:a", "thinking", None)], start=mark)
        mark = rec.mark()
        agent.alert("critical", "Budget exhausted", alert_type="budget_exhausted")
        status = await rec.wait_state("degraded", start=mark)
        assert ("alert:budget_exhausted", "error", None) in sessions(status)
        assert status.snapshot is not None
        assert any(s.error == "Budget exhausted" for s in status.snapshot.sessions)
        mark = rec.mark()
        agent.alert("warning", "Tool failure rate 31%")  # not an error: nothing new shown
        agent.tool_start("websocket:a", "bash")
        status = await rec.wait_for(
            lambda s: ("websocket:a", "tool_running", "bash") in sessions(s), start=mark
        )
        assert len(sessions(status)) == 2


async def test_event_stream_failures_leave_the_status_stream_alone(
    agent: SimAgent, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    async with SimServer(agent, debounce=0.01, keepalive=0.1) as server:
        server.faults.extend(
            [
                Fault("status", status=500, path=EVENTS_PATH),
                Fault("reset", path=EVENTS_PATH),
                Fault("huge_frame", size=64 * 1024, path=EVENTS_PATH),
                Fault("dribble", payload=b"event: tool_start\ndata: {", path=EVENTS_PATH),
            ]
        )
        with caplog.at_level(logging.INFO, logger=PP_LOG):
            source, rec = await run_source(
                server.url, events="on", max_frame_bytes=16 * 1024, stale_after=0.5
            )
            await rec.wait_state("idle")
            agent.agent_start("websocket:a")
            await rec.wait_state("active")
            await eventually(lambda: source.events_live, within=10)
        assert source.event_requests == 5
        assert server.requests[STREAM_PATH] == 1  # the status stream never noticed
        assert all(s.connection is not ConnectionState.DISCONNECTED for s in rec.statuses)
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "event stream: HTTP 500" in text
        assert "max_frame_bytes" in text
        assert "no complete frame or keepalive for 0.5 s" in text


async def test_unknown_bus_events_are_logged_once_and_ignored(
    agent: SimAgent, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    async with SimServer(agent, debounce=0.01, keepalive=0.1) as server:
        source, rec = await run_source(server.url, events="on")
        await rec.wait_state("idle")
        await eventually(lambda: source.events_live)
        with caplog.at_level(logging.INFO, logger=PP_LOG):
            for _ in range(3):
                agent.publish("mystery_event", {"session_key": "websocket:a"})
                agent.publish("trace_start", {"session_key": "websocket:a"})
            await server.send_raw(b"event: tool_start\ndata: {not json\n\n")
            agent.agent_start("websocket:z")
            await rec.wait_for(lambda s: sessions(s) == [("websocket:z", "thinking", None)])
        messages = [r.getMessage() for r in caplog.records]
        assert sum("mystery_event" in m for m in messages) == 1
        assert not any("trace_start" in m for m in messages)


async def test_missing_dashboard_token_names_it_for_the_event_stream(
    agent: SimAgent, run_source: RunSource, caplog: pytest.LogCaptureFixture
) -> None:
    token = "0b5a9c1e-token-value"
    async with SimServer(agent, token=token, debounce=0.01, keepalive=0.1) as server:
        with caplog.at_level(logging.DEBUG):
            source, rec = await run_source(server.url, events="on")
            await rec.wait_state("auth_failed")
            await eventually(lambda: source.event_requests >= 1)
            await eventually(lambda: "event stream" in caplog.text and "(401)" in caplog.text)
            right, rec2 = await run_source(server.url, events="on", token=token)
            await rec2.wait_state("idle")
            await eventually(lambda: right.events_live)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("event stream" in m and "dashboard token" in m for m in errors)
        assert token not in caplog.text


def test_auto_follows_the_bus_for_a_local_server_or_with_a_token() -> None:
    def wanted(url: str, **options: object) -> bool:
        source = PocketPawSource("pp", Options(url=url, **options), lambda s: None)  # type: ignore[arg-type]
        return source._events_wanted()

    assert is_local("http://127.0.0.1:8888") and is_local("http://localhost:8888")
    assert is_local("http://[::1]:8888") and not is_local("http://laptop.local:8888")
    assert wanted("http://127.0.0.1:8888")
    assert not wanted("http://laptop.local:8888")
    assert wanted("http://laptop.local:8888", token="a-dashboard-token")
    assert wanted("http://laptop.local:8888", events="on")
    assert not wanted("http://127.0.0.1:8888", events="off")
    with pytest.raises(ValueError, match="events"):
        Options(events="sometimes")


async def test_simulator_serves_the_event_bus_like_pocketpaw(agent: SimAgent) -> None:
    async with (
        SimServer(agent, api_key="status-key", keepalive=0.1) as server,
        httpx.AsyncClient(base_url=server.url) as client,
        client.stream("GET", EVENTS_PATH) as response,
    ):
        # Open to localhost: the status key is not asked for on the bus.
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        assert await anext(lines) == "event: connected"
        assert await anext(lines) == 'data: {"status": "ok"}'
        assert await anext(lines) == ""
        agent.agent_start("websocket:q")
        frame = [await anext(lines) for _ in range(2)]
        assert frame[0] == "event: agent_start"
        envelope = json.loads(frame[1].removeprefix("data: "))
        assert envelope["event"] == "agent_start"
        assert envelope["data"]["session_key"] == "websocket:q"
    async with (
        SimServer(agent, token="tok-1") as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        async with client.stream("GET", EVENTS_PATH) as response:
            assert response.status_code == 401  # a remote client without the token
        headers = {"Authorization": "Bearer tok-1"}
        async with client.stream("GET", EVENTS_PATH, headers=headers) as response:
            assert response.status_code == 200
