"""The local API against what a hostile page, another local process or a buggy client sends.

Each test runs the real aiohttp server on 127.0.0.1 (tests/api_rig.py) and talks
to it over a plain socket where a client library would not send the bytes tested.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from bridge.api import discovery
from bridge.infra import local_api
from bridge.infra.logsetup import SafeFormatter
from bridge.infra.secret import Secret
from tests.api_rig import SseReader, api_rig, get, raw_request
from tests.frames import make_source

TOKEN = "s3cret-token-for-the-tests"


def _logged(records: list[logging.LogRecord]) -> str:
    """The records as the bridge's own log handler writes them (tracebacks included)."""
    formatter = SafeFormatter()
    return "\n".join(formatter.format(r) for r in records)


async def test_a_malformed_request_is_one_line_without_its_bytes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A buggy client puts a control character after its token: aiohttp's parser
    # refuses the header, and its own log line quoted the header, token and all,
    # with a traceback, once per request.
    async with api_rig(tmp_path, token=TOKEN) as rig:
        port = rig.port
        with caplog.at_level(logging.DEBUG):
            for _ in range(10):
                status, _, _ = await raw_request(
                    port,
                    (
                        f"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"Authorization: Bearer {TOKEN}\x01\r\nConnection: close\r\n\r\n"
                    ).encode(),
                )
                assert status == 400
            # A page can send a URL longer than max_header (a no-cors fetch): same rule.
            status, _, _ = await raw_request(
                port,
                f"GET /{'a' * 9000} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(),
            )
            assert status == 400
    text = _logged(caplog.records)
    assert TOKEN not in text
    assert "Traceback" not in text
    malformed = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(malformed) == 1, [r.getMessage() for r in malformed]
    assert "malformed" in malformed[0].getMessage()


async def test_a_token_that_is_not_utf_8_is_a_401(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Bytes that are not UTF-8 in Authorization were a 500 and a traceback.
    async with api_rig(tmp_path) as rig:
        port = rig.port
        with caplog.at_level(logging.WARNING):
            for path, body in (("/v1/input", b'{"target":"global"}'), ("/v1/status", b"")):
                method = "POST" if body else "GET"
                status, _, _ = await raw_request(
                    port,
                    (
                        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        "Content-Type: application/json\r\nAuthorization: Bearer "
                    ).encode()
                    + b"\xff\xfe\xc3"
                    + f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body,
                )
                assert status == (401 if body else 200)
    assert "Traceback" not in _logged(caplog.records)
    assert rig.source.heard == []


async def test_json_nested_too_deep_is_a_400(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 64 KiB of '[' is within max_body; json.loads raised RecursionError: a 500.
    body = b"[" * 30000 + b"]" * 30000
    async with api_rig(tmp_path) as rig:
        port = rig.port
        with caplog.at_level(logging.WARNING):
            status, _, reply = await raw_request(
                port,
                (
                    f"POST /v1/input HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Authorization: Bearer {rig.token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                ).encode()
                + body,
            )
    assert status == 400, reply
    assert "Traceback" not in _logged(caplog.records)


async def test_a_pages_refused_requests_do_not_spend_the_local_clients_rate(
    tmp_path: Path,
) -> None:
    # On loopback every process (and the browser) is 127.0.0.1: one bucket. A page
    # firing no-cors requests (refused: Sec-Fetch-Site, Origin, a rebound Host) used
    # it up, and the user's hooks and plugins got 429 for as long as the page ran.
    async with api_rig(tmp_path, rate=0.001, burst=20) as rig:
        port = rig.port
        for extra in ("Sec-Fetch-Site: cross-site", "Origin: https://evil.example"):
            for _ in range(15):
                status, _, _ = await raw_request(
                    port, get("/v1/status", f"127.0.0.1:{port}", extra)
                )
                assert status in (403, 429)
        for _ in range(15):
            status, _, _ = await raw_request(port, get("/v1/status", f"rebind.example:{port}"))
            assert status in (403, 429)
        # The page's flood is still capped: it is answered 429 by now.
        assert status == 429
        status, _, _ = await raw_request(port, get("/v1/status", f"127.0.0.1:{port}"))
        assert status == 200


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("http://evil.example:{port}/v1/status", False),
        ("http://evil.example/v1/status", False),
        ("http://127.0.0.1:{port}/v1/status", True),
        ("/v1/status", True),
    ],
)
async def test_an_absolute_request_target_must_name_this_api_too(
    tmp_path: Path, target: str, ok: bool
) -> None:
    # With an absolute-form target, HTTP (RFC 9112 3.2.2) and aiohttp take the host
    # from the target, not from Host: the guard checked only Host.
    async with api_rig(tmp_path) as rig:
        port = rig.port
        request = (
            f"GET {target.format(port=port)} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        status, _, body = await raw_request(port, request)
    assert (status == 200) is ok, body
    if not ok:
        assert status == 403


async def test_no_answer_names_the_server_librarys_version(tmp_path: Path) -> None:
    # aiohttp's default Server header said "Python/3.11 aiohttp/3.x": a version for
    # anyone to match against advisories, for nothing a client needs.
    async with api_rig(tmp_path) as rig:
        port = rig.port
        answers = [
            await raw_request(port, get("/v1/status", f"127.0.0.1:{port}")),
            await raw_request(port, get("/v1/nothing", f"127.0.0.1:{port}")),
            await raw_request(port, get("/v1/status", f"evil.example:{port}")),
            # aiohttp answers this one itself, before any of the API's code runs.
            await raw_request(port, f"GET /{'a' * 9000} HTTP/1.1\r\n\r\n".encode()),
        ]
    assert [status for status, _, _ in answers] == [200, 404, 403, 400]
    for _, headers, _ in answers:
        server = headers.get("server", "")
        assert "aiohttp" not in server.lower() and "python" not in server.lower(), server


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX owners and modes")
def test_a_discovery_file_someone_else_could_have_planted_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without $XDG_RUNTIME_DIR the directory is /tmp/agentlight-<uid>: another user
    # can make it first, with an api.json naming their own server and any live pid.
    # The bridge refuses to write there; its clients read it, and `agentlight hook`
    # would have sent the agent's hook events (prompts, commands) to that server.
    monkeypatch.setattr(discovery, "SYSTEM_DIR", tmp_path / "system")
    run = tmp_path / "run"
    directory = run / "agentlight"
    directory.mkdir(parents=True)
    planted = {"api": 1, "url": "http://127.0.0.1:6666", "pid": os.getpid(), "version": "9"}
    (directory / "api.json").write_text(json.dumps(planted))
    environ = {"XDG_RUNTIME_DIR": str(run)}
    # `agentlight hook` and `notify` read it with the light client, without bridge.api.
    monkeypatch.setattr(local_api, "SYSTEM_DIR", str(tmp_path / "system"))
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    directory.chmod(0o777)  # anyone may write there
    assert discovery.find(environ) is None
    assert local_api.find_bridge() is None
    directory.chmod(0o700)
    found = discovery.find(environ)
    assert found is not None and found.url == "http://127.0.0.1:6666"
    assert local_api.find_bridge() == ("http://127.0.0.1:6666", None)
    # A link in its place (to a file the attacker may write) is not followed.
    (directory / "api.json").rename(tmp_path / "elsewhere.json")
    (directory / "api.json").symlink_to(tmp_path / "elsewhere.json")
    assert local_api.find_bridge() is None
    if os.getuid() == 0:  # as root, the same directory owned by someone else
        os.chown(directory, 4242, 4242)
        assert discovery.find(environ) is None
        assert local_api.find_bridge() is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux's /proc")
def test_a_file_whose_pid_now_names_another_process_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A killed bridge leaves its file; its pid may be reused by a process that listens
    # on the same port and would read the token clients send. The file says when its
    # process started: a process with that pid that started at another time is not it.
    monkeypatch.setattr(discovery, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.setattr(local_api, "SYSTEM_DIR", str(tmp_path / "system"))
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    run = tmp_path / "run"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    environ = {"XDG_RUNTIME_DIR": str(run)}
    path = run / "agentlight" / "api.json"
    discovery.write(path, "http://127.0.0.1:6666", Secret("t" * 32))
    started = json.loads(path.read_text())["started"]
    assert started == local_api.process_started(os.getpid())
    assert discovery.find(environ) is not None
    assert local_api.find_bridge() == ("http://127.0.0.1:6666", "t" * 32)
    data = json.loads(path.read_text())
    data["started"] = started - 1  # the bridge that wrote it started earlier
    path.write_text(json.dumps(data))
    assert discovery.find(environ) is None
    assert local_api.find_bridge() is None
    # Files from before `started` existed are read as before.
    del data["started"]
    path.write_text(json.dumps(data))
    assert discovery.find(environ) is not None
    assert local_api.find_bridge() is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIOCOUTQ")
async def test_a_stalled_reader_holds_a_slice_of_a_large_document_not_all_of_it(
    tmp_path: Path,
) -> None:
    # The status grows with the sessions (~1 KB each with long names: 2.4 MB for
    # 2,000). An event went to the connection whole, and Linux grows a stalled
    # socket's send buffer to 4 MB: each reader that stopped reading held whole
    # documents (and a queue of stale ones for a small document) until
    # client_timeout. Now: a small send buffer, and events written in slices as
    # the reader takes them.
    long = "x" * 200
    sessions = [(f"websocket:{i:04}{long}", "tool_running", long) for i in range(2000)]
    async with api_rig(tmp_path) as rig:
        rig.publish(make_source("pp", "active", sessions))
        await asyncio.sleep(0)  # the hub builds the document on the next turn
        size = len(rig.server.hub.document())
        assert size > 2_000_000
        stream = await SseReader.open(rig.port, rcvbuf=4096)
        await rig.server.hub.wait_streams(lambda n: n == 1)
        for _ in range(10):
            await asyncio.sleep(0)
        held = sum(_unsent(t) for t in rig.server.transports())
        assert 0 < held <= 512 * 1024, (held, size)
        # A reader that reads gets the whole event all the same.
        await stream.head()
        assert len((await stream.event())["sessions"]) == 2000
        stream.close()


def _unsent(transport: asyncio.BaseTransport) -> int:
    """Bytes written to ``transport`` and not yet sent: asyncio's buffer and the kernel's."""
    import fcntl
    import struct
    import termios

    assert isinstance(transport, asyncio.WriteTransport)
    sock = transport.get_extra_info("socket")
    queued = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")  # SIOCOUTQ
    return transport.get_write_buffer_size() + int(struct.unpack("i", queued)[0])
