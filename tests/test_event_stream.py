"""The SSE streams' body, read with stock httpx, against real servers on 127.0.0.1.

:func:`~bridge.sources.http.open_event_stream` as the PocketPaw source and bus use
it: every byte a server writes as chunks arrives, a broken body is httpx's error
(never a hang), a reader that stops or is cancelled hangs up, TLS verifies like
the rest of the client, and a configured proxy carries the stream too.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trustme

from bridge.sources.http import make_client, open_event_stream
from bridge.sources.sse import FrameReader

Respond = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
PATH = "/api/v1/events/stream"


@dataclass
class RawServer:
    """Answers each connection with ``respond``; keeps every request head it read."""

    respond: Respond
    tls: ssl.SSLContext | None = None
    heads: list[bytes] = field(default_factory=list)
    port: int = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            await self.respond(reader, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"


def chunked(*frames: bytes) -> bytes:
    """Each frame as its own chunk, as uvicorn writes PocketPaw's streams."""
    return b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames)


def client_for(url: str, **headers: str) -> httpx.AsyncClient:
    return make_client(url, connect_timeout=5.0, request_timeout=5.0, headers=headers)


async def read_all(client: httpx.AsyncClient) -> list[bytes]:
    async with open_event_stream(client, PATH, connect_within=5.0, auth=str) as body:
        return [item async for item in body]


async def test_every_frame_of_a_burst_arrives_and_the_request_says_what_it_wants() -> None:
    frames = [b'event: tool_start\ndata: {"n": %d}\n\n' % i for i in range(2000)]

    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunked(*frames) + b"0\r\n\r\n")

    async with (
        RawServer(respond) as server,
        client_for(server.url, Authorization="Bearer s3cret") as client,
    ):
        items = await read_all(client)
    reader = FrameReader(1 << 20)
    got = [frame for item in items for frame in reader.feed(item).frames]
    assert got == [f[:-2] for f in frames]
    head = server.heads[0].decode().lower()
    assert head.startswith(f"get {PATH} http/1.1\r\n")
    for line in (
        "accept: text/event-stream",
        "cache-control: no-store",
        "accept-encoding: identity",
        "authorization: bearer s3cret",
    ):
        assert f"{line}\r\n" in head


@pytest.mark.parametrize(
    "answer",
    [
        SSE_HEAD + b"5\r\nabc",  # the server went away inside a chunk
        SSE_HEAD + chunked(b"data: 1\n\n") + b"zz\r\n",  # not a chunk header
        SSE_HEAD + b"3\r\nabcXY",  # no CRLF after the data
    ],
)
async def test_a_broken_body_is_httpxs_error_never_a_hang(answer: bytes) -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)

    async with RawServer(respond) as server, client_for(server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await asyncio.wait_for(read_all(client), 10)


async def test_a_reader_that_stops_early_hangs_up() -> None:
    gone = asyncio.Event()

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunked(b"first"))
        await writer.drain()
        await reader.read()  # returns at EOF: the client hung up
        gone.set()

    async with RawServer(respond) as server, client_for(server.url) as client:
        async with open_event_stream(client, PATH, connect_within=5.0, auth=str) as body:
            async for item in body:
                assert item == b"first"
                break
        await asyncio.wait_for(gone.wait(), 5)


@pytest.mark.parametrize("during", ["head", "body"])
async def test_a_cancelled_reader_closes_its_connection(during: str) -> None:
    asked, gone, read = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.set()
        if during == "body":
            writer.write(SSE_HEAD + chunked(b"first"))
            await writer.drain()
        await reader.read()  # returns at EOF: the client hung up
        gone.set()

    async def follow(client: httpx.AsyncClient) -> None:
        async with open_event_stream(client, PATH, connect_within=5.0, auth=str) as body:
            async for _ in body:
                read.set()

    async with RawServer(respond) as server, client_for(server.url) as client:
        task = asyncio.create_task(follow(client))
        await asyncio.wait_for((read if during == "body" else asked).wait(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        await asyncio.wait_for(gone.wait(), 5)


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


async def test_tls_streams_are_verified_and_work_when_trusted(
    authority: trustme.CA,
    tls_server_context: ssl.SSLContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunked(b"over tls") + b"0\r\n\r\n")

    async with RawServer(respond, tls_server_context) as server:
        # An authority nobody configured: refused, never read unchecked.
        async with client_for(server.url) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await read_all(client)
        # Trusted the way httpx reads the environment: the stream works.
        bundle = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        async with client_for(server.url) as client:
            items = await read_all(client)
    assert b"".join(items) == b"over tls"


async def test_a_configured_proxy_carries_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunked(b"via the proxy") + b"0\r\n\r\n")

    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with RawServer(respond) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        # A name that is never looked up: the proxy is asked for it, and answers.
        async with client_for("http://pocketpaw.invalid:8888") as client:
            items = await read_all(client)
    assert b"".join(items) == b"via the proxy"
    assert proxy.heads[0].startswith(b"GET http://pocketpaw.invalid:8888" + PATH.encode())
