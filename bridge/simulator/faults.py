"""Fault injection: what the server does with a request instead of answering normally."""

from __future__ import annotations

from collections.abc import MutableSequence
from dataclasses import dataclass, field
from typing import Literal

from bridge.simulator.wire import Connection

__all__ = ["Fault", "FaultKind", "run_common", "take"]

FaultKind = Literal[
    "status", "reset", "hang", "half_frame", "die_mid_frame", "huge_frame", "garbage", "dribble"
]


@dataclass
class Fault:
    """What the server does with the next matching request instead of answering normally.

    Queue faults on :attr:`SimServer.faults`; each one is used up by one request.

    - ``status``: answer ``status`` with ``body`` and ``headers`` (e.g. a 429 with
      ``{"Retry-After": "2"}``).
    - ``reset``: close the socket without answering (an RST where the OS allows).
    - ``hang``: read the request and never answer (until the client leaves or ``stop()``).
    - ``half_frame``: stream headers, the first snapshot, then half of a second frame,
      then silence with the connection open. On the REST path: half the JSON body.
    - ``die_mid_frame``: stream headers and half a frame, then close abruptly. On the
      REST path: half the JSON body, then close.
    - ``huge_frame``: stream headers, then one ``data:`` line of ``size`` bytes, then
      silence with the connection open. On the REST path: a ``size``-byte body.
    - ``garbage``: stream headers, ``payload`` verbatim, then a normal stream. On the
      REST path: a 200 whose body is ``payload``.
    - ``dribble``: stream headers, then ``payload`` one byte every ``interval``
      seconds, over and over (a frame that never completes, if ``payload`` holds
      no blank line). On the REST path: a 200 body dribbled the same way.
    """

    kind: FaultKind
    status: int = 500
    body: bytes = b'{"detail":"boom"}'
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    size: int = 4 * 1024 * 1024
    payload: bytes = b""
    interval: float = 1.0

    def matches(self, path: str) -> bool:
        return self.path is None or self.path == path


def take(faults: MutableSequence[Fault], path: str) -> Fault | None:
    """Remove and return the first queued fault for ``path`` (each one serves one request)."""
    for fault in faults:
        if fault.matches(path):
            faults.remove(fault)
            return fault
    return None


async def run_common(conn: Connection, fault: Fault) -> bool:
    """Carry out the faults every simulator does alike; False for those it leaves to the caller."""
    if fault.kind == "status":
        await conn.respond(fault.status, fault.body, fault.headers)
    elif fault.kind == "reset":
        conn.abort(rst=True)
    elif fault.kind == "hang":
        await conn.until_peer_closes()
    else:
        return False
    return True
