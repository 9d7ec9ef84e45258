"""The loopback HTTP/1.1 listener both simulated servers (PocketPaw, AgP) stand on.

It owns what they share: binding 127.0.0.1 only, a stop that cuts every open
connection at once (a server that dies), a restart on the same port, and the
per-connection request loop. A subclass answers one request in :meth:`_handle`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any, Self

import h11

from bridge.simulator.wire import Connection, Request

log = logging.getLogger(__name__)


class Listener:
    """Listens on ``host:port`` (port 0: any free one) until stopped.

    :param label: how this server is named in its own log lines.
    """

    label = "simulator"

    def __init__(self, host: str, port: int) -> None:
        require_loopback(host)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._conns: dict[Connection, asyncio.Task[Any]] = {}

    async def start(self) -> None:
        """Listen; after :meth:`stop` this rebinds the same port (a server restart)."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._server = await asyncio.start_server(
            self._on_client, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.debug("%s listening on %s:%s", self.label, self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and cut every open connection now."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._conns.values())
        for conn in list(self._conns):
            conn.abort()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- for subclasses ---------------------------------------------------------------

    async def _handle(self, conn: Connection, request: Request) -> bool:
        """Answer one request; False means the connection must not be reused."""
        raise NotImplementedError

    def _accepted(self, conn: Connection) -> None:
        """A connection was accepted (for counters). Default: nothing."""

    def _forget(self, conn: Connection) -> None:
        """A connection ended (drop it from stream sets). Default: nothing."""

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(reader, writer)
        if self._server is None:
            conn.abort()  # accepted just before stop(): a stopped server answers nobody
            return
        task = asyncio.current_task()
        assert task is not None
        self._conns[conn] = task
        self._accepted(conn)
        try:
            while True:
                request = await conn.read_request()
                if request is None or not await self._handle(conn, request):
                    break
                if not conn.reusable:
                    break
        except h11.RemoteProtocolError as err:
            await conn.send_error(err.error_status_hint)
        except OSError:
            pass  # the client went away; nothing to tell anyone
        except asyncio.CancelledError:
            # stop() cancels us. Ending normally matters: Python 3.11's start_server
            # callback calls task.exception() and logs a cancelled task as an error.
            pass
        except Exception:
            log.exception("%s: request handler failed", self.label)
        finally:
            self._conns.pop(conn, None)
            self._forget(conn)
            conn.close()


def require_loopback(host: str) -> None:
    """The simulator must never be reachable from the network."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"simulator binds loopback only, not {host!r}")


__all__ = ["Listener", "require_loopback"]
