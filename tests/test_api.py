"""The local API on 127.0.0.1: its endpoints, its event stream, its guard and its caps.

Every test runs the real aiohttp server (bridge/api/server.py) in front of a real
engine; clients are httpx or a plain socket where a client library would not send
what is tested (a forged Host, half a request, a reader that stops reading).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import httpx
import pytest

from bridge.api import INPUT_DEVICE
from bridge.api.hooks import HookReply, HookRequest
from bridge.api.host import ApiHost, ApiStartError
from bridge.api.options import ApiOptions
from bridge.infra.errors import ConfigError
from bridge.pipeline.inputs import GLOBAL, Target
from bridge.pipeline.model import ConnectionState, SessionRef, SessionState
from bridge.pipeline.status_json import status_from_json
from bridge.pipeline.theme import default_theme
from tests.api_rig import SseReader, api_rig, get, raw_request, read_response
from tests.frames import make_source

TOKEN = "s3cret-token-for-the-tests"


# -- endpoints -----------------------------------------------------------------


async def test_status_is_the_status_document_with_the_looks_under_the_theme(
    tmp_path: Path,
) -> None:
    async with api_rig(tmp_path) as rig:
        rig.publish(
            make_source(
                "pp",
                "active",
                [("websocket:a", "tool_running", "bash"), ("telegram:b", "waiting_for_user")],
            )
        )
        async with rig.client() as client:
            response = await client.get("/v1/status")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        doc = response.json()
        # The one status format: what `agentlight status --json` and MQTT carry.
        assert doc["version"] == 1
        back = status_from_json(doc)
        assert [(s.key, s.state) for s in back.sessions] == [
            (s.key, s.state) for s in rig.engine.status.sessions
        ]
        theme = default_theme()
        by_key = {item["key"]: item for item in doc["sessions"]}
        looks = {m.session.key: m.look for m in rig.engine.mapped.sessions}
        running, waiting = by_key["websocket:a"], by_key["telegram:b"]
        want = theme.session_look(
            SessionState.TOOL_RUNNING, tool="bash", channel="websocket", raw="tool_running"
        )
        assert running["look"]["color"] == want.color.hex
        assert running["look"]["effect"] == want.effect.value
        assert running["look"]["brightness"] == want.brightness
        assert running["look"]["label"] == looks["websocket:a"].label
        assert waiting["look"]["effect"] == looks["telegram:b"].effect.value
        assert waiting["look"]["color"] == looks["telegram:b"].color.hex
        assert doc["look"]["color"] == theme.global_look(rig.engine.status.state).color.hex
        # What a one-light device shows: the session waiting for the user.
        assert doc["focus"] == {"source": "pp", "key": "telegram:b"}
        # The gesture an Allow needs, for a client to draw a hold as agentlight measures it.
        assert doc["answers"] == {"hold": 0.6, "confirm_within": 3.0}


async def test_health_tells_not_running_from_cannot_see_the_agent(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        rig.publish(
            make_source(
                "pp", connection=ConnectionState.DISCONNECTED, detail="cannot connect (refused)"
            )
        )
        url = rig.url
        async with rig.client() as client:
            doc = (await client.get("/v1/health")).json()
    assert doc["api"] == 1 and doc["version"] and doc["uptime"] >= 0
    assert doc["global"] == "disconnected"
    assert doc["sources"] == [
        {
            "name": "pp",
            "connection": "disconnected",
            "state": "disconnected",
            "detail": "cannot connect (refused)",
        }
    ]
    assert doc["devices"][0]["name"] == "led"
    # Not running at all: nothing answers.
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(trust_env=False) as client:
            await client.get(f"{url}/v1/health")


async def test_an_unknown_path_is_a_json_404(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig, rig.client() as client:
        response = await client.get("/v1/nothing")
    assert response.status_code == 404
    assert "error" in response.json()


# -- the event stream ----------------------------------------------------------


async def test_the_stream_sends_the_status_on_connect_then_each_change(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        rig.publish(make_source("pp", "idle"))
        stream = await SseReader.open(rig.port)
        assert await stream.head() == 200
        first = await stream.event()
        assert first["global"] == "idle"
        rig.publish(make_source("pp", "active", [("websocket:a", "thinking")]))
        second = await stream.event()
        assert second["global"] == "active"
        assert second["sessions"][0]["look"]["label"]
        rig.publish(make_source("pp", "active", [("websocket:a", "waiting_for_user")]))
        third = await stream.event()
        assert third["sessions"][0]["state"] == "waiting_for_user"
        stream.close()


async def test_a_burst_of_changes_in_one_turn_is_one_event(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        stream = await SseReader.open(rig.port)
        await stream.head()
        await stream.event()
        for i in range(50):
            rig.publish(make_source("pp", "active", [(f"websocket:{i}", "thinking")]))
        event = await stream.event()
        assert [s["key"] for s in event["sessions"]] == ["websocket:49"]
        stream.close()


async def test_a_slow_reader_gets_the_newest_state_not_a_queue(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        many = [(f"websocket:{i:03}", "thinking") for i in range(150)]  # ~60 KB a document
        stream = await SseReader.open(rig.port, rcvbuf=4096)
        await stream.head()
        await stream.event()
        changes = 200
        for n in range(changes):
            rig.publish(make_source("pp", "active", many, detail=f"change {n}"))
            await asyncio.sleep(0)  # one document per change: the hub builds on the next turn
        # Nothing was read meanwhile; now read what the server kept for us.
        got = []
        while True:
            event = await stream.event()
            got.append(event["sources"][0]["detail"])
            if got[-1] == f"change {changes - 1}":
                break
        assert len(got) < changes / 2, got
        stream.close()


async def test_keepalive_comments_keep_an_idle_stream_open(tmp_path: Path) -> None:
    async with api_rig(tmp_path, keepalive=0.05) as rig:
        stream = await SseReader.open(rig.port)
        await stream.head()
        await stream.chunk()
        assert await stream.chunk() == b": keepalive\n\n"
        stream.close()


async def test_a_client_that_vanishes_mid_event_is_let_go(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        sessions = [(f"websocket:{i}", "thinking") for i in range(50)]
        rig.publish(make_source("pp", "active", sessions))
        streams = [await SseReader.open(rig.port) for _ in range(3)]
        await rig.server.hub.wait_streams(lambda n: n == 3)
        for stream in streams:
            await stream.head()
            await stream.reader.readexactly(100)  # part of the first event only
            stream.abort()
        async with asyncio.timeout(5):
            assert await rig.server.hub.wait_streams(lambda n: n == 0) == 0
        # The server goes on for everyone else.
        async with rig.client() as client:
            assert (await client.get("/v1/status")).status_code == 200


async def test_a_reader_that_never_reads_is_dropped_after_client_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with api_rig(tmp_path, client_timeout=0.3) as rig:
        many = [(f"websocket:{i:03}", "thinking") for i in range(150)]
        stream = await SseReader.open(rig.port, rcvbuf=4096)
        await rig.server.hub.wait_streams(lambda n: n == 1)
        with caplog.at_level(logging.WARNING, "agentlight.api"):
            for n in range(200):
                rig.publish(make_source("pp", "active", many, detail=f"change {n}"))
                await asyncio.sleep(0)
            async with asyncio.timeout(10):
                await rig.server.hub.wait_streams(lambda n: n == 0)
        slow = [r for r in caplog.records if "client_timeout" in r.getMessage()]
        assert len(slow) == 1
        stream.close()


# -- input -----------------------------------------------------------------------


async def test_a_press_reaches_the_sources_with_the_session_it_names(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        rig.publish(make_source("pp", "active", [("websocket:a", "waiting_for_user")]))
        auth = {"Authorization": f"Bearer {rig.token}"}
        async with rig.client(headers=auth) as client:
            body = {"target": "session", "source": "pp", "key": "websocket:a", "action": "dismiss"}
            press = asyncio.create_task(rig.source.next_press())
            response = await client.post("/v1/input", json=body)
            assert response.status_code == 202
            event = await press
            assert event.device == INPUT_DEVICE
            assert event.pressed
            assert event.target == Target("session", SessionRef("pp", "websocket:a"), "dismiss")
            press = asyncio.create_task(rig.source.next_press())
            await client.post("/v1/input", json={"target": "global"})
            assert (await press).target == GLOBAL
            press = asyncio.create_task(rig.source.next_press())
            await client.post(
                "/v1/input",
                json={"target": "control", "action": "page_next", "control": "key:7"},
            )
            event = await press
            assert (event.control, event.target.kind, event.target.name) == (
                "key:7",
                "control",
                "page_next",
            )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ([1, 2], 400),
        ({"target": "everything"}, 400),
        ({"target": "session"}, 400),
        ({"target": "session", "source": "pp", "key": "websocket:nope"}, 404),
        ({"target": "control"}, 400),
        ({"target": "control", "action": "\x1b]52;c;evil\x07"}, 400),
        ({"target": "global", "pressed": "yes"}, 400),
        ({"target": "global", "answer": "rm -rf /"}, 400),
    ],
)
async def test_a_press_that_cannot_be_one_is_refused(
    tmp_path: Path, body: object, status: int
) -> None:
    async with api_rig(tmp_path) as rig:
        rig.publish(make_source("pp", "active", [("websocket:a", "thinking")]))
        async with rig.client(headers={"Authorization": f"Bearer {rig.token}"}) as client:
            response = await client.post("/v1/input", json=body)
        assert response.status_code == status
        assert response.json()["error"]
        assert rig.source.heard == []


async def test_a_press_needs_the_token_even_on_loopback(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig, rig.client() as client:
        wrong: tuple[dict[str, str], ...] = (
            {},
            {"Authorization": "Bearer wrong-token-of-some-length"},
            {"Authorization": f"Basic {rig.token}"},
        )
        for auth in wrong:
            response = await client.post("/v1/input", json={"target": "global"}, headers=auth)
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
        # ...and reading does not (on loopback, with no token configured).
        assert (await client.get("/v1/status")).status_code == 200
        assert rig.source.heard == []


async def test_a_configured_token_guards_every_endpoint(tmp_path: Path) -> None:
    async with api_rig(tmp_path, token=TOKEN) as rig:
        assert rig.token == TOKEN  # the discovery file hands it to local clients
        async with rig.client() as client:
            for path in ("/v1/status", "/v1/health", "/v1/status/stream"):
                assert (await client.get(path)).status_code == 401
        async with rig.client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            assert (await client.get("/v1/status")).status_code == 200
            press = asyncio.create_task(rig.source.next_press())
            assert (await client.post("/v1/input", json={"target": "global"})).status_code == 202
            await press


# -- the guard: browsers and rebinding ------------------------------------------


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:{port}", True),
        ("localhost:{port}", True),
        ("LOCALHOST:{port}", True),
        ("[::1]:{port}", True),
        ("127.0.0.1:{other}", False),
        ("rebind.attacker.example:{port}", False),
        ("localhost.attacker.example:{port}", False),
        ("127.0.0.1", False),  # port 80
        ("192.168.1.10:{port}", False),
        ("", False),
    ],
)
async def test_a_host_that_is_not_the_listen_address_is_refused(
    tmp_path: Path, host: str, ok: bool
) -> None:
    async with api_rig(tmp_path) as rig:
        name = host.format(port=rig.port, other=rig.port + 1)
        status, _, body = await raw_request(rig.port, get("/v1/status", name))
    assert (status == 200) is ok, body
    if not ok:
        assert status in (400, 403)


async def test_a_request_without_host_is_refused(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        status, _, _ = await raw_request(rig.port, b"GET /v1/status HTTP/1.0\r\n\r\n")
    assert status == 403


@pytest.mark.parametrize("origin", ["http://127.0.0.1:9999", "https://evil.example", "null"])
async def test_a_browser_style_post_is_refused(tmp_path: Path, origin: str) -> None:
    async with api_rig(tmp_path) as rig:
        headers = {"Origin": origin, "Authorization": f"Bearer {rig.token}"}
        async with rig.client(headers=headers) as client:
            response = await client.post("/v1/input", json={"target": "global"})
            assert response.status_code == 403
            assert "access-control-allow-origin" not in response.headers
            read = await client.get("/v1/status")
            assert read.status_code == 403
            preflight = await client.options(
                "/v1/input",
                headers={
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            )
            assert preflight.status_code == 403
        assert rig.source.heard == []


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
async def test_a_subresource_from_a_page_is_refused(tmp_path: Path, site: str) -> None:
    # An <img src> or <link> carries no Origin on a GET; Sec-Fetch-Site says who asked.
    async with api_rig(tmp_path) as rig, rig.client() as client:
        response = await client.get("/v1/status/stream", headers={"Sec-Fetch-Site": site})
        assert response.status_code == 403
        typed = await client.get("/v1/status", headers={"Sec-Fetch-Site": "none"})
        assert typed.status_code == 200  # the user typed the URL in the address bar


async def test_an_allowed_origin_gets_cors_answers(tmp_path: Path) -> None:
    origin = "https://dash.example:8443"
    async with (
        api_rig(tmp_path, allow_origins=(origin,)) as rig,
        rig.client(headers={"Origin": origin}) as client,
    ):
        response = await client.get("/v1/status")
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        preflight = await client.options(
            "/v1/input", headers={"Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 204
        assert "Authorization" in preflight.headers["access-control-allow-headers"]
        other = await client.get("/v1/status", headers={"Origin": "https://dash.example"})
        assert other.status_code == 403


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"],
)
async def test_a_form_post_is_refused(tmp_path: Path, content_type: str | None) -> None:
    async with api_rig(tmp_path) as rig:
        headers = {"Authorization": f"Bearer {rig.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        async with rig.client() as client:
            response = await client.post(
                "/v1/input", content=b'{"target": "global"}', headers=headers
            )
    assert response.status_code == 415
    assert rig.source.heard == []


async def test_json_with_a_charset_is_json(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        headers = {
            "Authorization": f"Bearer {rig.token}",
            "Content-Type": "application/json; charset=utf-8",
        }
        async with rig.client() as client:
            press = asyncio.create_task(rig.source.next_press())
            response = await client.post(
                "/v1/input", content=b'{"target": "global"}', headers=headers
            )
            assert response.status_code == 202
            await press


# -- caps ------------------------------------------------------------------------


async def test_an_oversized_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async with api_rig(tmp_path, max_body=4096) as rig:
        head = (
            f"POST /v1/input HTTP/1.1\r\nHost: 127.0.0.1:{rig.port}\r\n"
            f"Authorization: Bearer {rig.token}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000000\r\n\r\n"
        ).encode()
        # Only the head is sent: the answer must not wait for 100 MB.
        status, headers, _ = await raw_request(rig.port, head)
        assert status == 413
        assert headers.get("connection") == "close"
        # Without a length up front (chunked), the body is cut off at max_body.
        chunked = (
            f"POST /v1/input HTTP/1.1\r\nHost: 127.0.0.1:{rig.port}\r\n"
            f"Authorization: Bearer {rig.token}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode() + b"".join(b"1000\r\n" + b" " * 4096 + b"\r\n" for _ in range(4))
        status, _, _ = await raw_request(rig.port, chunked)
        assert status == 413
    assert rig.source.heard == []


async def test_an_oversized_header_is_refused(tmp_path: Path) -> None:
    async with api_rig(tmp_path, max_header=2048) as rig:
        big = get("/v1/status", f"127.0.0.1:{rig.port}", "X-Big: " + "a" * 4096)
        status, _, _ = await raw_request(rig.port, big)
        assert status == 400
        many = get("/v1/status", f"127.0.0.1:{rig.port}", *(f"X-{i}: 1" for i in range(100)))
        status, _, _ = await raw_request(rig.port, many)
        assert status == 400


async def test_a_flood_from_one_client_is_answered_429_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A rate so low nothing refills during the test: exactly `burst` requests pass.
    async with api_rig(tmp_path, rate=0.001, burst=20) as rig, rig.client() as client:
        with caplog.at_level(logging.WARNING, "agentlight.api"):
            codes = [(await client.get("/v1/status")).status_code for _ in range(100)]
        assert codes.count(200) == 20
        assert codes[20:] == [429] * 80
        refused = await client.get("/v1/status")
        assert int(refused.headers["retry-after"]) >= 1
    assert [r.getMessage() for r in caplog.records if "429" in r.getMessage()] != []
    assert len([r for r in caplog.records if "requests a second" in r.getMessage()]) == 1


async def test_connections_over_the_cap_are_answered_503(tmp_path: Path) -> None:
    async with api_rig(tmp_path, max_connections=3) as rig:
        streams = [await SseReader.open(rig.port) for _ in range(3)]
        for stream in streams:
            assert await stream.head() == 200
        request = get("/v1/status", f"127.0.0.1:{rig.port}")
        status, _, body = await raw_request(rig.port, request)
        assert status == 503
        assert json.loads(body)["error"]
        streams[0].abort()
        await rig.server.hub.wait_streams(lambda n: n == 2)
        await asyncio.sleep(0)  # aiohttp forgets the connection when its handler is done
        status, _, _ = await raw_request(rig.port, get("/v1/status", f"127.0.0.1:{rig.port}"))
        assert status == 200
        for stream in streams[1:]:
            stream.close()


async def test_a_client_that_dribbles_its_request_is_cut_off(tmp_path: Path) -> None:
    async with api_rig(tmp_path, client_timeout=0.3) as rig:
        reader, writer = await asyncio.open_connection("127.0.0.1", rig.port)
        writer.write(b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        await writer.drain()
        # It never finishes its headers: the server closes the connection.
        async with asyncio.timeout(5):
            assert await reader.read() == b""
        writer.close()
        # An idle connection that sends nothing at all goes the same way.
        reader, writer = await asyncio.open_connection("127.0.0.1", rig.port)
        async with asyncio.timeout(5):
            assert await reader.read() == b""
        writer.close()


async def test_a_body_that_never_arrives_is_a_408(tmp_path: Path) -> None:
    async with api_rig(tmp_path, client_timeout=0.3) as rig:
        reader, writer = await asyncio.open_connection("127.0.0.1", rig.port)
        writer.write(
            (
                f"POST /v1/input HTTP/1.1\r\nHost: 127.0.0.1:{rig.port}\r\n"
                f"Authorization: Bearer {rig.token}\r\nContent-Type: application/json\r\n"
                "Content-Length: 100\r\n\r\n{"
            ).encode()
        )
        await writer.drain()
        async with asyncio.timeout(5):
            status, _, _ = await read_response(reader)
        assert status == 408
        writer.close()


async def test_text_a_client_sends_is_escaped_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with api_rig(tmp_path) as rig:
        with caplog.at_level(logging.WARNING, "agentlight.api"):
            await raw_request(
                rig.port, get("/v1/%1b]0;owned%07%1b[2J", "evil.example:1")
            )
    lines = [r.getMessage() for r in caplog.records]
    assert any("\\x1b" in line for line in lines), lines
    assert not any("\x1b" in line or "\x07" in line for line in lines)


# -- the door for hooks ----------------------------------------------------------


async def test_hooks_go_to_the_handler_registered_for_the_agent(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        got: list[HookRequest] = []

        async def handler(request: HookRequest) -> HookReply:
            got.append(request)
            return HookReply(200, {"continue": True})

        unregister = rig.host.hooks.register("claude", handler)
        async with rig.client() as client:
            payload = {"hook_event_name": "PreToolUse", "tool_name": "Bash"}
            response = await client.post("/v1/hooks/claude", json=payload)
            assert (response.status_code, response.json()) == (200, {"continue": True})
            assert got[0].agent == "claude" and got[0].payload == payload
            other = await client.post("/v1/hooks/codex", json=payload)
            assert other.status_code == 404 and "error" in other.json()
            unregister()
            gone = await client.post("/v1/hooks/claude", json=payload)
            assert gone.status_code == 404
            bad = await client.post("/v1/hooks/Claude%20Code", json=payload)
            assert bad.status_code == 404


# -- starting and stopping -----------------------------------------------------------


async def test_listening_beyond_loopback_needs_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTLIGHT_API_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    async with api_rig(tmp_path) as rig:
        host = ApiHost(rig.engine, environ={"XDG_RUNTIME_DIR": str(tmp_path)})
        with pytest.raises(ConfigError, match="needs a token"):
            await host.apply(ApiOptions(listen="0.0.0.0:0"))
        assert host.server is None


async def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        host = ApiHost(rig.engine, environ={"XDG_RUNTIME_DIR": str(tmp_path)})
        with pytest.raises(ApiStartError, match=r"cannot listen on 127\.0\.0\.1"):
            await host.apply(ApiOptions(listen=f"127.0.0.1:{rig.port}"))
        # The running one is untouched.
        async with rig.client() as client:
            assert (await client.get("/v1/status")).status_code == 200


async def test_stopping_ends_every_stream_and_closes_the_port(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        streams = [await SseReader.open(rig.port) for _ in range(5)]
        await rig.server.hub.wait_streams(lambda n: n == 5)
        port = rig.port
        # Well within the second SIGTERM has to leave everything dark.
        async with asyncio.timeout(0.9):
            await rig.host.close()
        for stream in streams:
            async with asyncio.timeout(3):
                await stream.reader.read()  # to the end: the server closed it
            stream.close()
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("127.0.0.1", port))
        assert not rig.host.discovery_path.exists()
