"""The bulk stream transport against real servers on 127.0.0.1 (plain and TLS)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trustme

from bridge.sources.http import BULK, _proxied, make_client
from bridge.sources.stream_transport import BulkStreamTransport, target

Respond = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


@dataclass
class RawServer:
    """Answers each connection with ``respond``; keeps every request head it read."""

    respond: Respond
    tls: ssl.SSLContext | None = None
    heads: list[bytes] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
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
    return b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames)


async def read_all(
    client: httpx.AsyncClient, path: str = "/stream", *, bulk: bool = True
) -> tuple[httpx.Response, list[bytes]]:
    items: list[bytes] = []
    async with client.stream("GET", path, extensions={BULK: True} if bulk else {}) as response:
        async for item in response.aiter_raw():
            items.append(item)
    return response, items


def client_for(url: str, **headers: str) -> httpx.AsyncClient:
    return make_client(url, connect_timeout=5.0, request_timeout=5.0, headers=headers)


async def test_a_burst_of_chunks_arrives_in_a_few_reads_with_every_byte() -> None:
    frames = [b'event: status\ndata: {"n": %d}\n\n' % i for i in range(2000)]

    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunked(*frames) + b"0\r\n\r\n")

    async with RawServer(respond) as server, client_for(server.url) as client:
        response, items = await read_all(client)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert b"".join(items) == b"".join(frames)
    assert len(items) < len(frames) / 10  # whole reads, not one item per chunk


async def test_the_request_carries_the_clients_headers_path_and_query() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunked(b"x") + b"0\r\n\r\n")

    async with (
        RawServer(respond) as server,
        client_for(server.url, Authorization="Bearer s3cret") as client,
    ):
        await read_all(client, "/api/stream?key=abc")
    head = server.heads[0].decode()
    assert head.startswith("GET /api/stream?key=abc HTTP/1.1\r\n")
    lowered = head.lower()
    assert f"host: 127.0.0.1:{server.port}\r\n" in lowered
    assert "authorization: bearer s3cret\r\n" in lowered
    assert "accept-encoding: identity\r\n" in lowered


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", b"hello"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloEXTRA", b"hello"),
        (b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end", b"until the end"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", b"ok"),
        (b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 4\r\n\r\nnope", b"nope"),
    ],
)
async def test_other_framings_are_read_as_the_head_says(answer: bytes, body: bytes) -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)

    async with RawServer(respond) as server, client_for(server.url) as client:
        _, items = await read_all(client)
    assert b"".join(items) == body


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (SSE_HEAD + b"5\r\nabc", httpx.RemoteProtocolError, "incomplete chunked read"),
        (SSE_HEAD + b"zz\r\n", httpx.RemoteProtocolError, "illegal chunk header"),
        (SSE_HEAD + b"3\r\nabcXY", httpx.RemoteProtocolError, "CRLF"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc", httpx.RemoteProtocolError, "9"),
        (b"", httpx.RemoteProtocolError, "without sending a response"),
        (b"NOT HTTP AT ALL\r\n\r\n", httpx.RemoteProtocolError, None),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
            httpx.RemoteProtocolError,
            None,
        ),
    ],
)
async def test_a_broken_answer_is_httpxs_error_never_a_hang(
    answer: bytes, error: type[Exception], words: str | None
) -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)

    async with RawServer(respond) as server, client_for(server.url) as client:
        with pytest.raises(error, match=words):
            await read_all(client)


async def test_an_oversized_response_head_is_refused() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n" + b"x-pad: " + b"a" * 100_000 + b"\r\n\r\n")

    async with RawServer(respond) as server, client_for(server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="head larger"):
            await read_all(client)


async def test_no_server_is_a_connect_error() -> None:
    async with RawServer(lambda r, w: asyncio.sleep(0)) as server:
        url = server.url
    async with client_for(url) as client:
        with pytest.raises(httpx.ConnectError):
            await read_all(client)


async def test_a_silent_server_is_a_read_timeout() -> None:
    release = asyncio.Event()

    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        await release.wait()

    async with RawServer(respond) as server, client_for(server.url) as client:
        with pytest.raises(httpx.ReadTimeout):
            async with client.stream(
                "GET", "/", extensions={BULK: True}, timeout=httpx.Timeout(5.0, read=0.01)
            ) as response:
                async for _ in response.aiter_raw():
                    pass
        release.set()


async def test_closing_the_stream_early_closes_the_connection() -> None:
    gone = asyncio.Event()

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunked(b"first"))
        await writer.drain()
        await reader.read()  # returns at EOF: the client hung up
        gone.set()

    async with RawServer(respond) as server, client_for(server.url) as client:
        async with client.stream("GET", "/", extensions={BULK: True}) as response:
            async for item in response.aiter_raw():
                assert item == b"first"
                break
        await asyncio.wait_for(gone.wait(), 5)


async def test_closing_the_client_closes_an_open_stream() -> None:
    gone = asyncio.Event()

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        await writer.drain()
        await reader.read()
        gone.set()

    async with RawServer(respond) as server:
        client = client_for(server.url)
        response = await client.send(
            client.build_request("GET", "/", extensions={BULK: True}), stream=True
        )
        assert response.status_code == 200
        await client.aclose()
        await asyncio.wait_for(gone.wait(), 5)


async def test_requests_without_the_extension_use_httpx_own_transport() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    async with RawServer(respond) as server, client_for(server.url) as client:
        plain, _ = await read_all(client, bulk=False)
        bulk, _ = await read_all(client, bulk=True)
    # httpcore hands out its connection; the bulk reader keeps its own to itself.
    assert "network_stream" in plain.extensions
    assert "network_stream" not in bulk.extensions


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


async def test_tls_streams_verify_like_the_client_and_work_when_trusted(
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
            _, items = await read_all(client)
    assert b"".join(items) == b"over tls"


async def test_a_configured_proxy_keeps_httpx_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    def transport(client: httpx.AsyncClient) -> object:
        return client._transport

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with client_for("http://127.0.0.1:8888") as proxied:
        assert not isinstance(transport(proxied), BulkStreamTransport)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with client_for("http://127.0.0.1:8888") as direct:
        assert isinstance(transport(direct), BulkStreamTransport)


async def test_frames_before_a_framing_error_are_still_handed_over() -> None:
    async def respond(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunked(b"data:1\n", b"\n") + b"zz\r\n")

    items: list[bytes] = []
    async with RawServer(respond) as server, client_for(server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="illegal chunk header"):
            async with client.stream("GET", "/", extensions={BULK: True}) as response:
                async for item in response.aiter_raw():
                    items.append(item)
    assert b"".join(items) == b"data:1\n\n"  # what httpx's own transport hands over too


@pytest.mark.parametrize(
    ("url", "extensions", "expected"),
    [
        # IDNA 2008, as httpx writes Host: never the socket module's IDNA 2003 (fass.de).
        ("https://faß.de/s", {}, ("xn--fa-hia.de", 443, "xn--fa-hia.de")),
        ("http://faß.de/s", {}, ("xn--fa-hia.de", 80, None)),
        (
            "https://127.0.0.1:8443/s",
            {"sni_hostname": "pocketpaw.lan"},
            ("127.0.0.1", 8443, "pocketpaw.lan"),
        ),
        ("http://[::1]:8888/s", {}, ("::1", 8888, None)),
    ],
)
def test_the_connection_goes_where_httpx_would_send_it(
    url: str, extensions: dict[str, str], expected: tuple[str, int, str | None]
) -> None:
    assert target(httpx.Request("GET", url, extensions=extensions)) == expected


async def test_a_host_the_socket_module_cannot_encode_is_a_connect_error() -> None:
    # Refused while encoding the name, before any lookup: no address is contacted.
    async with client_for("http://" + "a" * 64 + ".invalid") as client:
        with pytest.raises(httpx.ConnectError):
            await read_all(client)


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
        async with client.stream("GET", "/", extensions={BULK: True}) as response:
            async for _ in response.aiter_raw():
                read.set()

    async with RawServer(respond) as server, client_for(server.url) as client:
        task = asyncio.create_task(follow(client))
        await asyncio.wait_for((read if during == "body" else asked).wait(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.wait_for(gone.wait(), 5)
        bulk = client._transport
        assert isinstance(bulk, BulkStreamTransport) and not bulk._open


@pytest.mark.parametrize(
    "env",
    [
        {"HTTP_PROXY": "http://127.0.0.1:9"},
        {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "example.test"},
        {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ".example.test"},
        {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "*"},
        {"HTTPS_PROXY": "http://127.0.0.1:9"},
        {"ALL_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"},
        {},
    ],
)
@pytest.mark.parametrize(
    "url", ["http://example.test:8888", "http://www.example.test", "http://127.0.0.1:8888"]
)
async def test_the_proxy_decision_is_httpxs_own(
    env: dict[str, str], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    async with httpx.AsyncClient() as plain:  # httpx deciding alone; nothing is sent
        proxied = plain._transport_for_url(httpx.URL(url)) is not plain._transport
    assert _proxied(url) is proxied
