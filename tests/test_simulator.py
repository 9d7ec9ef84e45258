"""The built-in PocketPaw simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from bridge.simulator import (
    STATUS_PATH,
    STREAM_PATH,
    Fault,
    SimAgent,
    SimServer,
    run_scenario,
    serve,
)
from tests.conftest import ManualClock

WEB = "websocket:abc123"
DEBOUNCE = 0.05
KEEPALIVE = 0.2
WAIT = 2.0  # generous upper bound for anything that should happen "soon"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def agent(clock: ManualClock) -> SimAgent:
    return SimAgent(clock=clock, error_ttl=30.0)


ServerFactory = Callable[..., Awaitable[SimServer]]


@pytest.fixture
async def make_server(agent: SimAgent) -> AsyncIterator[ServerFactory]:
    servers: list[SimServer] = []

    async def make(**options: Any) -> SimServer:
        options.setdefault("debounce", DEBOUNCE)
        options.setdefault("keepalive", KEEPALIVE)
        server = SimServer(agent, **options)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(make_server: ServerFactory) -> SimServer:
    return await make_server()


@pytest.fixture
async def client(server: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy from the environment must never see 127.0.0.1 traffic.
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=WAIT) as c:
        yield c


class Lines:
    """Lines of an open stream, pumped in the background so a read can time out safely."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            async for line in self.response.aiter_lines():
                await self._queue.put(line)
        except Exception as err:
            await self._queue.put(err)
        await self._queue.put(None)

    async def line(self, within: float = WAIT) -> str | None:
        """The next line, None at end of stream; raises what the client raised."""
        item = await asyncio.wait_for(self._queue.get(), within)
        if isinstance(item, BaseException):
            raise item
        return item

    async def block(self, within: float = WAIT) -> list[str]:
        """Lines up to the next blank line: one frame or one comment."""
        lines: list[str] = []
        while (line := await self.line(within)) != "":
            assert line is not None, f"stream ended inside a frame: {lines}"
            lines.append(line)
        return lines

    async def status(self, within: float = WAIT) -> dict[str, Any]:
        """The next status frame's data, skipping keepalives."""
        while True:
            lines = await self.block(within)
            if lines != [": keepalive"]:
                assert lines[0] == "event: status", lines
                assert len(lines) == 2 and lines[1].startswith("data: "), lines
                return json.loads(lines[1][len("data: ") :])

    async def silent(self, seconds: float) -> None:
        with pytest.raises(TimeoutError):
            await self.line(seconds)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def stream(
    client: httpx.AsyncClient, path: str = STREAM_PATH, **kwargs: Any
) -> AsyncIterator[Lines]:
    async with client.stream("GET", path, **kwargs) as response:
        lines = Lines(response)
        try:
            yield lines
        finally:
            await lines.close()


async def eventually(check: Callable[[], bool]) -> None:
    """Poll a server counter (it has no event to wait on) for up to WAIT seconds."""
    for _ in range(int(WAIT / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


# -- the tracker -------------------------------------------------------------------------


def test_idle_snapshot(agent: SimAgent, clock: ManualClock) -> None:
    clock.advance(3600.7)
    assert agent.snapshot() == {
        "global": {
            "state": "idle",
            "active_sessions": 0,
            "max_concurrent": 5,
            "uptime_seconds": 3600,
        },
        "sessions": [],
    }


def test_session_fields_split_and_order(agent: SimAgent, clock: ManualClock) -> None:
    agent.agent_start(WEB, "Help with Python script")
    agent.agent_start("slack:T1:C2")
    agent.agent_start("nocolon")
    clock.advance(5.0)
    agent.tool_start(WEB, "bash")
    agent.token_usage(WEB, 1000, 300)
    agent.token_usage(WEB, 500, 20)
    clock.advance(2.34)
    snap = agent.snapshot()
    assert snap["global"]["state"] == "active"
    assert snap["global"]["active_sessions"] == 3
    web, slack, bare = snap["sessions"]
    assert web == {
        "session_key": WEB,
        "session_id": "abc123",
        "channel": "websocket",
        "title": "Help with Python script",
        "state": "tool_running",
        "tool_name": "bash",
        "duration_seconds": 2.3,  # since the last state change, not since the start
        "token_usage": {"input": 1500, "output": 320},
        "error_message": None,
    }
    assert (slack["channel"], slack["session_id"]) == ("slack", "T1:C2")
    assert (bare["channel"], bare["session_id"]) == ("unknown", "nocolon")
    assert bare["token_usage"] is None and bare["duration_seconds"] == 7.3


def test_state_machine_and_notifications(agent: SimAgent) -> None:
    agent.agent_start(WEB)
    version = agent.version
    agent.thinking(WEB)  # already thinking: the real tracker stays quiet
    agent.tool_result(WEB)  # streaming only follows a running tool
    agent.token_usage(WEB, 1, 1)  # token counts never wake the stream
    assert agent.version == version
    assert agent.snapshot()["sessions"][0]["state"] == "thinking"

    for step, state in [
        (lambda: agent.tool_start(WEB, "bash"), "tool_running"),
        (lambda: agent.tool_result(WEB), "streaming"),
        (lambda: agent.ask_user_question(WEB), "waiting_for_user"),
        (lambda: agent.thinking(WEB), "thinking"),
    ]:
        step()
        assert agent.version == version + 1
        version = agent.version
        assert agent.snapshot()["sessions"][0]["state"] == state
    assert agent.snapshot()["sessions"][0]["tool_name"] is None
    agent.agent_end(WEB)
    assert agent.version == version + 1
    assert agent.snapshot()["global"]["state"] == "idle"


def test_error_is_dropped_silently_after_ttl(agent: SimAgent, clock: ManualClock) -> None:
    agent.agent_start(WEB)
    agent.agent_start("discord:xyz789")
    agent.error("discord:xyz789", "Rate limit exceeded")
    snap = agent.snapshot()
    assert snap["global"]["state"] == "degraded"
    assert snap["sessions"][1]["error_message"] == "Rate limit exceeded"
    version = agent.version
    clock.advance(29.9)
    assert agent.snapshot()["global"]["state"] == "degraded"
    clock.advance(0.1)
    snap = agent.snapshot()
    assert snap["global"]["state"] == "active"
    assert [s["session_key"] for s in snap["sessions"]] == [WEB]
    assert agent.version == version  # the real bug: no stream is told


def test_error_timer_goes_by_key(agent: SimAgent, clock: ManualClock) -> None:
    agent.agent_start(WEB)
    agent.error(WEB, "boom")
    clock.advance(10)
    agent.agent_start(WEB)  # a new run under the same key...
    clock.advance(20)
    assert agent.snapshot()["sessions"] == []  # ...is dropped by the old timer too


def test_raw_session_and_fingerprint(agent: SimAgent) -> None:
    agent.agent_start(WEB)
    version = agent.version
    raw = {"session_key": "x:y", "state": "compacting", "tool_name": None, "extra": [1]}
    agent.set_raw_session(raw)
    assert agent.version == version + 1
    snap = agent.snapshot()
    assert snap["sessions"][1] == raw
    assert SimAgent.fingerprint(snap) == (
        "active",
        ((WEB, "thinking", None), ("x:y", "compacting", None)),
    )


async def test_wait_for_change(agent: SimAgent) -> None:
    assert not await agent.wait_for_change(agent.version, 0.01)
    assert await agent.wait_for_change(agent.version - 1, 0.01)  # already past
    waiting = asyncio.create_task(agent.wait_for_change(agent.version, WAIT))
    await asyncio.sleep(0)
    agent.agent_start(WEB)
    assert await waiting


# -- REST ----------------------------------------------------------------------------------


async def test_get_status_is_compact_json(
    agent: SimAgent, server: SimServer, client: httpx.AsyncClient
) -> None:
    agent.agent_start(WEB, "Ünïcode title")
    response = await client.get(STATUS_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == json.dumps(agent.snapshot(), separators=(",", ":"), ensure_ascii=False)
    await client.get(STATUS_PATH, params={"unused": "1"})
    assert server.requests[STATUS_PATH] == 2


async def test_unknown_path_and_method(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/agent/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    assert (await client.post(STATUS_PATH)).status_code == 405


async def test_status_key_rules(make_server: ServerFactory) -> None:
    server = await make_server(api_key="s3cret")
    assert "s3cret" not in repr(server)
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as c:

        async def code(params: dict[str, str] | None = None, key: str | None = None) -> int:
            headers = {"X-Status-Key": key} if key is not None else {}
            response = await c.get(STATUS_PATH, params=params, headers=headers)
            if response.status_code == 403:
                assert response.json() == {"detail": "Invalid or missing status API key"}
            return response.status_code

        assert await code() == 403
        assert await code(key="wrong") == 403
        assert await code(key="s3cret") == 200
        assert await code({"key": "s3cret"}) == 200
        assert await code({"key": "wrong"}, key="s3cret") == 403  # non-empty query wins
        assert await code({"key": "s3cret"}, key="wrong") == 200
        assert await code({"key": ""}, key="s3cret") == 200  # empty falls back to header
        response = await c.get(STREAM_PATH)
        assert response.status_code == 403


async def test_dashboard_token_rules(make_server: ServerFactory) -> None:
    server = await make_server(token="tok-uuid", api_key="k")
    assert "tok-uuid" not in repr(server)
    key = {"X-Status-Key": "k"}
    bearer = {"Authorization": "Bearer tok-uuid"}
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as c:

        async def get(params: dict[str, str] | None = None, *headers: dict[str, str]) -> int:
            merged = {name: value for h in headers for name, value in h.items()}
            response = await c.get(STATUS_PATH, params=params, headers=merged)
            if response.status_code == 401:
                assert response.json() == {"detail": "Unauthorized"}
            return response.status_code

        assert await get(None, key) == 401
        assert await get(None, bearer, key) == 200
        assert await get({"token": "tok-uuid"}, key) == 200
        assert await get({"token": "nope"}, bearer, key) == 401  # wrong ?token= beats Bearer
        assert await get({"key": "bad"}) == 401  # 401 is checked before 403...
        assert await get(None, bearer) == 403  # ...and the key still counts after it
        assert (await c.get("/elsewhere")).status_code == 401


async def test_malformed_request_gets_400(server: SimServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    async with asyncio.timeout(WAIT):
        reply = await reader.read()  # the server answers and closes
    writer.close()
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert reply.endswith(b'{"detail":"Bad Request"}')


async def test_stream_disabled_is_404_and_can_be_toggled(
    server: SimServer, client: httpx.AsyncClient
) -> None:
    server.stream_enabled = False
    response = await client.get(STREAM_PATH)
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    server.stream_enabled = True
    async with stream(client) as lines:
        assert lines.response.status_code == 200


# -- the stream ------------------------------------------------------------------------------


async def test_stream_initial_frame_bytes_and_headers(
    agent: SimAgent, client: httpx.AsyncClient
) -> None:
    agent.agent_start(WEB, "Help")
    expected = f"event: status\ndata: {json.dumps(agent.snapshot())}\n\n".encode()
    async with client.stream("GET", STREAM_PATH) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        received = b""
        async with asyncio.timeout(WAIT):
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) >= len(expected):
                    break
    # Spaces after separators (json.dumps defaults), never an id: or retry: field.
    assert received == expected


async def test_stream_change_then_keepalive(agent: SimAgent, client: httpx.AsyncClient) -> None:
    async with stream(client) as lines:
        assert (await lines.status())["global"]["state"] == "idle"
        agent.agent_start(WEB)
        agent.tool_start(WEB, "bash")  # within the debounce: only the latest is sent
        snap = await lines.status()
        assert [(s["state"], s["tool_name"]) for s in snap["sessions"]] == [
            ("tool_running", "bash")
        ]
        assert await lines.block() == [": keepalive"]


async def test_stream_dedupes_and_restarts_keepalive(
    agent: SimAgent, server: SimServer, client: httpx.AsyncClient
) -> None:
    agent.agent_start(WEB)
    agent.tool_start(WEB, "bash")
    async with stream(client) as lines:
        await lines.status()
        loop = asyncio.get_running_loop()
        start = loop.time()
        agent.tool_start(WEB, "bash")  # same fingerprint: swallowed
        agent.token_usage(WEB, 10, 10)
        assert await lines.block() == [": keepalive"]
        # The swallowed change restarted the wait: debounce + keepalive, not keepalive.
        assert loop.time() - start >= DEBOUNCE + KEEPALIVE * 0.9
    await eventually(lambda: server.open_streams == 0)  # client gone, handler cleaned up


async def test_stream_never_reports_the_silent_error_drop(
    agent: SimAgent, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    agent.agent_start(WEB)
    agent.error(WEB, "Rate limit exceeded")
    async with stream(client) as lines:
        assert (await lines.status())["global"]["state"] == "degraded"
        clock.advance(31)
        assert (await client.get(STATUS_PATH)).json()["global"]["state"] == "idle"
        assert await lines.block() == [": keepalive"]
        assert await lines.block() == [": keepalive"]


async def test_send_frame_and_send_raw(server: SimServer, client: httpx.AsyncClient) -> None:
    async with stream(client) as lines:
        await lines.status()
        await server.send_frame('{"not": "a snapshot"}', event="weird")
        assert await lines.block() == ["event: weird", 'data: {"not": "a snapshot"}']
        await server.send_raw(b"retry: 10\nid: 7\n\n")
        assert await lines.block() == ["retry: 10", "id: 7"]


async def test_drop_streams_and_restart_on_same_port(
    agent: SimAgent, server: SimServer, client: httpx.AsyncClient
) -> None:
    async with stream(client) as lines:
        await lines.status()
        assert server.open_streams == 1
        await server.drop_streams()
        with pytest.raises(httpx.TransportError):
            while await lines.line() is not None:
                pass
    assert (await client.get(STATUS_PATH)).status_code == 200  # still listening

    port = server.port
    async with stream(client) as lines:
        await lines.status()
        await server.stop()
        with pytest.raises(httpx.TransportError):
            while await lines.line() is not None:
                pass
    with pytest.raises(httpx.ConnectError):
        await client.get(STATUS_PATH)
    await server.start()
    assert server.port == port
    agent.agent_start(WEB)
    async with stream(client) as lines:  # a reconnect starts from a full snapshot
        assert (await lines.status())["sessions"][0]["session_key"] == WEB


# -- faults ----------------------------------------------------------------------------------


async def test_fault_status_is_used_once_and_filtered_by_path(
    server: SimServer, client: httpx.AsyncClient
) -> None:
    server.faults.append(
        Fault("status", status=429, headers={"Retry-After": "2"}, path=STREAM_PATH)
    )
    server.faults.append(Fault("status", status=503, body=b'{"detail":"down"}'))
    response = await client.get(STATUS_PATH)  # skips the stream-only fault
    assert (response.status_code, response.json()) == (503, {"detail": "down"})
    response = await client.get(STREAM_PATH)
    assert (response.status_code, response.headers["retry-after"]) == (429, "2")
    assert not server.faults
    assert (await client.get(STATUS_PATH)).status_code == 200
    assert server.requests == {STATUS_PATH: 2, STREAM_PATH: 1}


async def test_fault_reset_and_hang(server: SimServer, client: httpx.AsyncClient) -> None:
    server.faults.append(Fault("reset"))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        await client.get(STATUS_PATH)
    server.faults.append(Fault("hang"))
    with pytest.raises(httpx.ReadTimeout):
        await client.get(STATUS_PATH, timeout=0.1)


async def test_stop_cuts_a_hanging_request(server: SimServer, client: httpx.AsyncClient) -> None:
    server.faults.append(Fault("hang"))
    pending = asyncio.create_task(client.get(STATUS_PATH))
    await eventually(lambda: server.requests[STATUS_PATH] == 1)
    async with asyncio.timeout(1.0):
        await server.stop()
        with pytest.raises(httpx.TransportError):
            await pending


async def test_fault_half_frame(server: SimServer, client: httpx.AsyncClient) -> None:
    server.faults.append(Fault("half_frame"))
    async with stream(client) as lines:
        await lines.status()
        assert await lines.line() == "event: status"
        await lines.silent(KEEPALIVE * 1.5)  # the half line never completes, no keepalive
        assert server.open_streams == 1


async def test_fault_die_mid_frame(client: httpx.AsyncClient, server: SimServer) -> None:
    server.faults.append(Fault("die_mid_frame"))
    async with stream(client) as lines:
        assert await lines.line() == "event: status"
        with pytest.raises(httpx.RemoteProtocolError):
            await lines.line()


async def test_fault_huge_frame(server: SimServer, client: httpx.AsyncClient) -> None:
    server.faults.append(Fault("huge_frame", size=300_000))
    async with stream(client) as lines:
        assert await lines.line() == "event: status"
        data = await lines.line()
        assert data is not None and len(data) == len("data: ") + 300_000
        assert await lines.line() == ""


async def test_fault_garbage_then_normal_stream(
    agent: SimAgent, server: SimServer, client: httpx.AsyncClient
) -> None:
    server.faults.append(Fault("garbage", payload=b"\xff\xfe{nonsense\n\n"))
    async with stream(client) as lines:
        assert len(await lines.block()) == 1  # the garbage, whatever it decodes to
        assert (await lines.status())["global"]["state"] == "idle"
        agent.agent_start(WEB)
        assert (await lines.status())["global"]["state"] == "active"


# -- the demo --------------------------------------------------------------------------------


async def test_scenario_visits_every_state(agent: SimAgent, clock: ManualClock) -> None:
    global_states: set[str] = set()
    session_states: set[str] = set()
    tools: set[str] = set()
    token_seen = False

    async def fake_sleep(seconds: float) -> None:
        nonlocal token_seen
        assert seconds >= 0
        snap = agent.snapshot()
        global_states.add(snap["global"]["state"])
        for s in snap["sessions"]:
            session_states.add(s["state"])
            tools.add(s["tool_name"])
            token_seen = token_seen or s["token_usage"] is not None
        clock.advance(seconds)

    await run_scenario(agent, speed=2.0, loop=False, sleep=fake_sleep)
    assert global_states == {"idle", "active", "degraded"}
    assert session_states == {"thinking", "tool_running", "streaming", "waiting_for_user", "error"}
    assert tools >= {"bash", "web_search", "read_file", "python"}
    assert token_seen
    assert agent.snapshot()["global"]["state"] == "idle"  # the error was dropped by its ttl


async def test_serve_runs_until_cancelled() -> None:
    ready: asyncio.Future[SimServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(0, speed=1000.0, debounce=0.01, ready=ready.set_result))
    server = await asyncio.wait_for(ready, WAIT)
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as c:
        assert (await c.get(STATUS_PATH)).status_code == 200
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(httpx.ConnectError):
            await c.get(STATUS_PATH)


# -- hygiene ---------------------------------------------------------------------------------


def test_binds_loopback_only(agent: SimAgent) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimServer(agent, host="0.0.0.0")


def test_import_does_not_pull_httpx() -> None:
    code = "import sys, bridge.simulator; sys.exit('httpx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
