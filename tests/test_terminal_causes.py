"""The terminal line of the bridge's own states keeps the end of its cause (the address,
the port, the code) at any width: what is cut is the middle of the cause."""

from __future__ import annotations

import io

import pytest

from bridge.pipeline.frame import Frame
from bridge.pipeline.looks import Color, Effect, Look
from bridge.pipeline.model import AgentStatus, ConnectionState, SourceStatus
from bridge.text.textsafe import width
from devices.terminal import TerminalDriver, TerminalOptions

CAUSES = [
    (ConnectionState.DISCONNECTED, "No agent",
     "cannot connect ([Errno 111] Connect call failed ('127.0.0.1', 46321))", "46321))"),
    (ConnectionState.AUTH_FAILED, "Auth failed",
     "PocketPaw rejected the status API key (403); check api_key or POCKETPAW_STATUS_API_KEY",
     "API_KEY"),
    (ConnectionState.DISCONNECTED, "No agent",
     "no status API at http://pocketpaw.example.internal:8888/api/v1/agent/status (404)",
     "(404)"),
]  # fmt: skip


def _frame(connection: ConnectionState, label: str, detail: str) -> Frame:
    status = AgentStatus.fold((SourceStatus("pocketpaw", connection, None, detail),))
    look = Look(Color(1, 1, 1), Effect.SOLID, label=label)
    return Frame("t", status, look, look.color, look, global_color=look.color)


@pytest.mark.parametrize(("connection", "label", "detail", "end"), CAUSES)
@pytest.mark.parametrize("columns", [40, 60, 80, 100, 300])
async def test_a_cut_cause_keeps_its_end(
    connection: ConnectionState, label: str, detail: str, end: str, columns: int
) -> None:
    out = io.StringIO()
    term = TerminalDriver("t", TerminalOptions(width=columns, color="never"), stream=out)
    await term.open()
    await term.show(_frame(connection, label, detail))
    await term.close()
    line = out.getvalue().splitlines()[0]
    assert width(line) <= columns
    assert line.startswith(f"● {label} — ")
    assert line.endswith(end)
    if width(f"● {label} — {detail}") <= columns:
        assert line == f"● {label} — {detail}"  # nothing cut when it fits
    else:
        assert "…" in line and line.split(" — ", 1)[1][:10] == detail[:10]  # its start too
