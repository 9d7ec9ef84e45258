"""A built-in H Company AgP: a real local HTTP server answering the session status API.

``GET {base}/sessions/{id}/status`` and ``GET {base}/sessions?parent_session_id=`` with
``Authorization: Bearer <key>``, as in the AgP docs (seed 003); :class:`Fault` hooks
(the PocketPaw simulator's) break it on purpose, and ``delay`` slows each answer so
tests can see how many requests are in flight::

    agp = SimAgp()
    async with AgpServer(agp, api_key="k") as server:
        agp.create("s1", "running", steps=3)
        server.faults.append(Fault("status", status=429, headers={"Retry-After": "7"}))

Only the stdlib and h11 are imported here (no httpx).
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

from bridge.simulator.faults import Fault, run_common, take
from bridge.simulator.listener import Listener
from bridge.simulator.wire import Connection, Request, json_body

__all__ = ["BASE_PATH", "STATUSES", "AgpServer", "SimAgp", "SimAgpSession", "status_path"]

log = logging.getLogger(__name__)

BASE_PATH = "/api/v2"
STATUSES = (
    "pending",
    "running",
    "paused",
    "idle",
    "completed",
    "failed",
    "timed_out",
    "interrupted",
)


def status_path(session_id: str) -> str:
    return f"{BASE_PATH}/sessions/{session_id}/status"


@dataclass
class SimAgpSession:
    id: str
    status: str = "pending"
    error: str | None = None
    steps: int = 0
    # name -> [input, output, reasoning]
    usage: dict[str, list[int]] = field(default_factory=dict)
    subagents: list[str] = field(default_factory=list)
    parent: str | None = None
    agent: str = "agent"

    def status_body(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "steps": self.steps,
            "usage_per_model": [
                {
                    "name": name,
                    "input_tokens": i,
                    "output_tokens": o,
                    "reasoning_tokens": r,
                }
                for name, (i, o, r) in self.usage.items()
            ],
            "subagent_session_ids": list(self.subagents),
        }


class SimAgp:
    """The sessions the simulated AgP knows; change them from a test or a scenario."""

    def __init__(self) -> None:
        self.sessions: dict[str, SimAgpSession] = {}

    def create(
        self, session_id: str, status: str = "pending", *, parent: str | None = None, **kw: Any
    ) -> SimAgpSession:
        session = SimAgpSession(session_id, status, parent=parent, **kw)
        self.sessions[session_id] = session
        if parent is not None:
            self.sessions[parent].subagents.append(session_id)
        return session

    def set(self, session_id: str, status: str, *, error: str | None = None) -> None:
        if status not in STATUSES:
            # Allowed on purpose (a newer server's status); tests use it.
            log.debug("simulated AgP: unknown status %r", status)
        session = self.sessions[session_id]
        session.status = status
        session.error = error

    def step(self, session_id: str, n: int = 1, *, model: str = "holo3-35b-a3b") -> None:
        """``n`` decide-and-act cycles, each using some tokens."""
        session = self.sessions[session_id]
        session.steps += n
        row = session.usage.setdefault(model, [0, 0, 0])
        row[0] += 1700 * n
        row[1] += 120 * n

    def use(self, session_id: str, model: str, i: int, o: int, r: int = 0) -> None:
        row = self.sessions[session_id].usage.setdefault(model, [0, 0, 0])
        row[0] += i
        row[1] += o
        row[2] += r

    def remove(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)


class AgpServer(Listener):
    """AgP's session status endpoints on 127.0.0.1.

    :param api_key: the Bearer key every request must carry; None accepts any request.
    :param forbidden: session IDs this key may not read (403).
    :param delay: seconds each answer takes (on the loop's clock).
    """

    label = "simulated AgP"

    def __init__(
        self,
        agp: SimAgp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__(host, port)
        self.agp = agp
        self.delay = delay
        self.forbidden: set[str] = set()
        self.faults: collections.deque[Fault] = collections.deque()
        self.requests: collections.Counter[str] = collections.Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self._api_key = api_key

    def __repr__(self) -> str:
        return f"AgpServer(url={self.url!r}, api_key={'set' if self._api_key else None})"

    @property
    def url(self) -> str:
        """The API base, as a source's ``url``."""
        return f"http://{self.host}:{self.port}{BASE_PATH}"

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def _accepted(self, conn: Connection) -> None:
        self.connections += 1

    async def _handle(self, conn: Connection, request: Request) -> bool:
        self.requests[request.path] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            fault = take(self.faults, request.path)
            if fault is not None:
                await self._run_fault(conn, fault)
                return False
            status, body = self._answer(request)
            await conn.respond(status, json_body(body))
            return True
        finally:
            self.in_flight -= 1

    def _answer(self, request: Request) -> tuple[int, Any]:
        if request.method != "GET":
            return 405, {"detail": "Method Not Allowed"}
        if not self._authorized(request):
            return 401, {"detail": "Invalid or missing API key"}
        prefix, suffix = f"{BASE_PATH}/sessions/", "/status"
        path = request.path
        if path.startswith(prefix) and path.endswith(suffix):
            session_id = path[len(prefix) : -len(suffix)]
            session = self.agp.sessions.get(session_id)
            if session is None or "/" in session_id:
                return 404, {"detail": "Session not found"}
            if session_id in self.forbidden:
                return 403, {"detail": "Not allowed to read this session"}
            return 200, session.status_body()
        if path == f"{BASE_PATH}/sessions":
            parent = request.query.get("parent_session_id")
            rows = [
                {"id": s.id, "status": s.status, "agent": s.agent, "parent_session_id": s.parent}
                for s in self.agp.sessions.values()
                if parent is None or s.parent == parent
            ]
            return 200, {"sessions": rows}
        return 404, {"detail": "Not Found"}

    def _authorized(self, request: Request) -> bool:
        if self._api_key is None:
            return True
        scheme, _, offered = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            offered.strip().encode(), self._api_key.encode()
        )

    async def _run_fault(self, conn: Connection, fault: Fault) -> None:
        if await run_common(conn, fault):
            return
        if fault.kind == "garbage":
            await conn.respond(200, fault.payload)
        elif fault.kind == "huge_frame":
            await conn.start(
                200, {"content-type": "application/json", "content-length": str(fault.size)}
            )
            chunk = b" " * 65536
            left = fault.size
            while left > 0:
                await conn.send(chunk[: min(left, len(chunk))])
                left -= len(chunk)
            await conn.end()
        else:  # half_frame / die_mid_frame: a truncated body under a full content-length
            body = b'{"status":"running","error":null,"steps":1}'
            await conn.start(
                200, {"content-type": "application/json", "content-length": str(len(body))}
            )
            await conn.send(body[: len(body) // 2])
            if fault.kind == "die_mid_frame":
                conn.abort()
            else:
                await conn.until_peer_closes()
