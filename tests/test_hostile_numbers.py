"""Issue 30, item 4: every number a server sends is clamped where it is parsed.

AgP steps and tokens of 4,300+ digits, summed, made the record device fail for good
and ``agentlight status --json`` print a traceback; PocketPaw's ``token_usage.input
= 10^400`` made the Stream Deck divide into an OverflowError and reopen in a loop.
Here every parser takes any number in every numeric field, and every session it
makes goes through every formatter that prints or divides one.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.pipeline import bounds
from bridge.pipeline.model import (
    AgentStatus,
    ConnectionState,
    GlobalState,
    Session,
    Snapshot,
    SourceStatus,
)
from bridge.pipeline.status_json import status_from_json, status_to_json
from bridge.sources.agp.parse import parse_status as agp_parse
from bridge.sources.agp.parse import to_session
from bridge.sources.pocketpaw.parse import parse_status as pocketpaw_parse
from bridge.text import statusline
from devices.streamdeck import layout

NOW = 1_718_000_000.0

# What a server may send where a number goes: anything JSON can carry, and the edges.
numbers = st.one_of(
    st.integers(),
    st.sampled_from([10**4000, -(10**4000), 10**400, 2**63, bounds.MAX_COUNT + 1, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1e-308]),
)


def printable(sessions: tuple[Session, ...]) -> None:
    """Every way a session's numbers are printed or divided: none may raise."""
    by_source: dict[str, list[Session]] = {}
    for s in sessions:
        by_source.setdefault(s.source, []).append(s)
    status = AgentStatus.fold(
        tuple(
            SourceStatus(name, ConnectionState.CONNECTED, Snapshot(GlobalState.ACTIVE, tuple(some)))
            for name, some in by_source.items()
        )
    )
    doc = status_to_json(status, NOW)
    text = json.dumps(doc)
    assert status_from_json(json.loads(text)).sessions is not None  # what the record writes, read
    statusline.format_line("{state} {label} {seconds} {focus}", status, NOW)
    for s in sessions:
        for n in (s.steps, *(() if s.tokens is None else (s.tokens.total, s.tokens.input))):
            if n is not None:
                assert 0 <= n <= 100 * bounds.MAX_COUNT
                layout.count(n)
                str(n)
        if s.tokens is not None:
            assert s.tokens.total / 1000 >= 0
        statusline.duration(s.duration(NOW))


@given(a=numbers, b=numbers, c=numbers, d=numbers)
def test_pocketpaw_numbers(a: Any, b: Any, c: Any, d: Any) -> None:
    data = {
        "global": {
            "state": "active",
            "active_sessions": a,
            "max_concurrent": b,
            "uptime_seconds": c,
        },
        "sessions": [
            {
                "session_key": "websocket:x",
                "state": "thinking",
                "duration_seconds": d,
                "token_usage": {"input": a, "output": b},
            }
        ],
    }
    snapshot = pocketpaw_parse(data, source="pp", received_at=NOW)
    for value in (snapshot.active_sessions, snapshot.max_concurrent):
        assert value is None or 0 <= value <= bounds.MAX_COUNT
    printable(snapshot.sessions)


@given(a=numbers, b=numbers, c=numbers)
def test_agp_numbers(a: Any, b: Any, c: Any) -> None:
    data = {
        "status": "running",
        "steps": a,
        "usage_per_model": [
            {"name": f"m{i}", "input_tokens": a, "output_tokens": b, "reasoning_tokens": c}
            for i in range(32)
        ],
    }
    printable((to_session("s", agp_parse(data), source="agp", since=NOW - 5),))


@given(a=numbers, b=numbers, c=numbers, t=st.one_of(st.just(NOW), numbers))
def test_mirrored_status_numbers(a: Any, b: Any, c: Any, t: Any) -> None:
    doc = {
        "version": 1,
        "global": "active",
        "t": t,
        "sources": [
            {
                "name": "pp",
                "connection": "connected",
                "state": "active",
                "active_sessions": a,
                "max_concurrent": b,
            }
        ],
        "sessions": [
            {
                "source": "pp",
                "key": "k",
                "state": "thinking",
                "seconds": c,
                "steps": a,
                "tokens": {"input": a, "output": b, "reasoning": a},
                "usage": [{"model": "m", "input": a, "output": b}],
                "ask": {"id": "q", "kind": "permission", "text": "?", "expires_in": c},
            }
        ],
    }
    try:
        status = status_from_json(doc, origin="desk")
    except ValueError:
        return  # refused (a negative count, a non-finite time): never half-read
    printable(status.sessions)


def test_the_cases_from_the_issue() -> None:
    huge = 10**4000
    agp = agp_parse(
        {
            "status": "running",
            "steps": huge,
            "usage_per_model": [
                {"name": "a", "input_tokens": huge},
                {"name": "b", "input_tokens": huge},
            ],
        }
    )
    assert agp.steps == bounds.MAX_COUNT
    printable((to_session("s", agp, source="agp", since=NOW),))
    pp = pocketpaw_parse(
        {
            "global": {"state": "active"},
            "sessions": [
                {
                    "session_key": "w:x",
                    "state": "thinking",
                    "token_usage": {"input": 10**400, "output": 1},
                }
            ],
        },
        received_at=NOW,
    )
    assert pp.sessions[0].tokens is not None
    assert pp.sessions[0].tokens.input == bounds.MAX_COUNT
    layout.count(pp.sessions[0].tokens.total)  # was: integer division result too large
