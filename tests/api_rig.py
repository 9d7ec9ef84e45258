"""A running engine with the local API on 127.0.0.1, and clients that speak to it.

:class:`ApiRig` runs an :class:`~bridge.engine.Engine` (a mock device, a source that
records the presses it is handed) with an :class:`~bridge.api.host.ApiHost` on
127.0.0.1 and a free port; the discovery file goes to the test's own directory.
:func:`raw_request` and :class:`SseReader` talk HTTP over a plain socket, for what
an HTTP client library would not send (a forged ``Host``, a half request).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from bridge.api.host import ApiHost
from bridge.api.options import ApiOptions
from bridge.api.server import ApiServer
from bridge.engine import Device, Engine
from bridge.infra.secret import Secret
from bridge.pipeline.inputs import InputEvent
from bridge.pipeline.model import SourceStatus
from bridge.pipeline.theme import default_theme
from bridge.sources.base import Source
from devices.mock import MockDriver


class Listening(Source):
    """A source that publishes nothing itself and keeps every press it is handed."""

    TYPE = "listening"

    def __init__(self) -> None:
        super().__init__("listening", None, lambda status: None)
        self.heard: list[InputEvent] = []
        self._event = asyncio.Event()

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def on_input(self, event: InputEvent) -> None:
        self.heard.append(event)
        event_, self._event = self._event, asyncio.Event()
        event_.set()

    async def next_press(self, within: float = 5.0) -> InputEvent:
        count = len(self.heard)
        async with asyncio.timeout(within):
            while len(self.heard) == count:
                await self._event.wait()
        return self.heard[count]


@dataclass
class ApiRig:
    engine: Engine
    host: ApiHost
    source: Listening
    device: MockDriver
    run_dir: Path

    @property
    def server(self) -> ApiServer:
        assert self.host.server is not None
        return self.host.server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def token(self) -> str:
        """The token ``POST /v1/input`` needs, from the discovery file (as a client reads it)."""
        data = json.loads(self.host.discovery_path.read_text())
        token: str = data["token"]
        return token

    def publish(self, status: SourceStatus) -> None:
        self.engine.publish(status)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=10, **kwargs)


@asynccontextmanager
async def api_rig(tmp_path: Path, **options: Any) -> AsyncIterator[ApiRig]:
    """An engine with the API on ``127.0.0.1:0`` and ``options`` (ApiOptions keys)."""
    device = MockDriver("led")
    engine = Engine([Device(device)], default_theme())
    source = Listening()
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([source], stop))
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700, exist_ok=True)
    host = ApiHost(engine, environ={"XDG_RUNTIME_DIR": str(run_dir)})
    try:
        await host.apply(ApiOptions(**{"listen": "127.0.0.1:0", **options}))
        yield ApiRig(engine, host, source, device, run_dir)
    finally:
        await host.close()
        stop.set()
        await task


def with_token(options: ApiOptions, token: str) -> ApiOptions:
    return replace(options, token=Secret(token))


async def raw_request(
    port: int, data: bytes, *, read: bool = True, within: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as it is and read one whole response: (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(within):
            return await read_response(reader)
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


def get(path: str, host: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *extra, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


class SseReader:
    """An event-stream client on a plain socket: read events, or stop reading at all.

    :param rcvbuf: the socket's receive buffer (small: the server's writes back up soon).
    """

    def __init__(self, sock: socket.socket, reader: asyncio.StreamReader, writer: Any) -> None:
        self.sock = sock
        self.reader = reader
        self.writer = writer
        self._pending = b""  # read by event() past the end of an event

    @classmethod
    async def open(
        cls, port: int, *, rcvbuf: int | None = None, headers: tuple[str, ...] = ()
    ) -> SseReader:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        # A small stream-reader limit too, so this side holds little of what was sent.
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**16)
        request = [
            "GET /v1/status/stream HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Accept: text/event-stream",
            *headers,
            "",
            "",
        ]
        writer.write("\r\n".join(request).encode())
        await writer.drain()
        return cls(sock, reader, writer)

    async def head(self) -> int:
        head = await self.reader.readuntil(b"\r\n\r\n")
        return int(head.split()[1])

    async def chunk(self) -> bytes:
        """One chunk of the chunked body (an event or a keepalive, as the server wrote it)."""
        size_line = await self.reader.readuntil(b"\r\n")
        size = int(size_line.strip(), 16)
        data = await self.reader.readexactly(size + 2)
        return data[:-2]

    async def event(self) -> dict[str, Any]:
        """The next status document (keepalives skipped; a large event spans chunks)."""
        while True:
            while b"\n\n" not in self._pending:
                self._pending += await self.chunk()
            event, _, self._pending = self._pending.partition(b"\n\n")
            for line in event.split(b"\n"):
                if line.startswith(b"data: "):
                    doc: dict[str, Any] = json.loads(line[6:])
                    return doc

    def abort(self) -> None:
        """Vanish: a reset, as a killed client or a pulled cable looks."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    def close(self) -> None:
        self.writer.close()
