"""Issue 30, item 2: PocketPaw's event bus with bounded memory, work and life.

Fifty events with 1.9 MB session keys took RSS to 546 MB; 100k distinct failures
made each batch's view cost 1.4 s; 142 sessions built from events alone stayed
"thinking" while the status stream said idle. Work is counted in bytecodes
(``tests/opcount.py``); time on the virtual clock (``harness/vclock.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from bridge.pipeline import bounds
from bridge.pipeline.model import SessionState
from bridge.simulator import SimAgent, SimServer
from bridge.sources.pocketpaw.events import (
    CONFIRM_WITHIN,
    MAX_FAILURES,
    BusEvent,
    Overlay,
    parse_event,
)
from harness.vclock import run_virtual, vloop
from tests.frames import make_session, make_snapshot
from tests.opcount import Key, count_ops, growth
from tests.rig import start_bus_rig

PP_LOG = "agentlight.sources.pocketpaw"
NEVER = 1e6  # a status stream that sends its first snapshot and nothing after


def envelope(kind: str, **data: object) -> str:
    return json.dumps({"event": kind, "data": data})


def failure(key: str, at: float, message: str = "boom") -> BusEvent:
    return parse_event(
        "tool_result",
        envelope("tool_result", session_key=key, status="error", name="bash", result=message),
        at=at,
        wall=at,
    )


# -- payloads --------------------------------------------------------------------------------


def test_an_event_keeps_only_what_the_map_reads_and_each_string_capped() -> None:
    huge = "x" * 2_000_000
    event = parse_event(
        "tool_result",
        envelope(
            "tool_result",
            session_key="websocket:a",
            status="error",
            name=huge,
            result=huge,
            params={"blob": huge},
            extra=[huge] * 3,
        ),
        at=1.0,
        wall=1.0,
    )
    assert set(event.data) == {"status", "name", "result"}
    assert len(event.data["name"]) == bounds.NAME_CHARS
    assert len(event.data["result"]) == bounds.MESSAGE_CHARS


def test_a_session_key_over_the_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="session_key over 256"):
        parse_event(
            "agent_start", envelope("agent_start", session_key="k" * 1_900_000), at=0, wall=0
        )
    ok = parse_event("agent_start", envelope("agent_start", session_key="k" * 256), at=0, wall=0)
    assert ok.key == "k" * 256


def test_the_recent_events_hold_kilobytes_not_gigabytes() -> None:
    overlay = Overlay("pp", error_ttl=30.0, max_sessions=1000)
    overlay.rebase(make_snapshot("idle"), 0.0)
    huge = "y" * 2_000_000
    for i in range(2000):
        overlay.add(
            parse_event(
                "tool_start",
                envelope("tool_start", session_key=f"w:{i}", name=huge, params={"b": huge}),
                at=1.0 + i,
                wall=1.0 + i,
            )
        )
    held = sum(len(e.key) + sum(len(v) for v in e.data.values()) for e in overlay._recent)
    assert len(overlay._recent) == 1024
    assert held <= 1024 * (256 + 7 * bounds.MESSAGE_CHARS)


# -- failures: capped, and the view's cost with them --------------------------------------------


def test_failures_are_capped_oldest_first_said_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    overlay = Overlay("pp", error_ttl=30.0, max_sessions=100_000)
    overlay.rebase(make_snapshot("idle"), 0.0)
    with caplog.at_level(logging.INFO, logger=PP_LOG):
        for i in range(MAX_FAILURES + 100):
            overlay.add(failure(f"w:{i}", 1.0 + i / 1000))
        view = overlay.view(2.0)
        assert view is not None
        keys = [s.key for s in view.sessions]
        assert len(keys) == MAX_FAILURES and keys[0] == "w:100"  # the oldest went
        assert overlay.overflow.detail() == "100 failures dropped"
        overlay.prune(40.0)  # all past error_ttl
    said = [r.getMessage() for r in caplog.records]
    assert sum("over the cap" in m for m in said) == 1
    assert sum("back under the cap" in m for m in said) == 1
    assert overlay.overflow.detail() == ""


def test_a_view_costs_the_same_however_many_failures_came() -> None:
    def view_after(n: int) -> Callable[[], object]:
        overlay = Overlay("pp", error_ttl=30.0, max_sessions=100_000)
        overlay.rebase(make_snapshot("idle"), 0.0)
        for i in range(n):
            overlay.add(failure(Key(f"w:{i}"), 1.0))
        return lambda: overlay.view(2.0)

    # Past the cap the failures held stop growing: so does the work per batch.
    assert count_ops(view_after(4 * MAX_FAILURES)) == count_ops(view_after(2 * MAX_FAILURES))


def test_applying_events_is_linear() -> None:
    def make(n: int) -> Callable[[], object]:
        events = [
            parse_event(kind, envelope(kind, session_key=Key(f"w:{i}"), name="bash"), at=1, wall=1)
            for i in range(n)
            for kind in ("agent_start", "tool_start", "tool_result")
        ]

        def run() -> None:
            overlay = Overlay("pp", error_ttl=30.0, max_sessions=100_000)
            overlay.rebase(make_snapshot("idle"), 0.0)
            for event in events:
                overlay.add(event)
            overlay.view(2.0)

        return run

    assert growth(make, 150) < 2.2


# -- what events built expires unless a snapshot confirms it ---------------------------------


def test_sessions_from_events_alone_leave_after_confirm_within() -> None:
    overlay = Overlay("pp", error_ttl=30.0, max_sessions=1000)
    overlay.rebase(make_snapshot(sessions=[make_session("w:real", state="tool_running")]), 0.0)
    for i in range(142):
        overlay.add(parse_event("agent_start", envelope("agent_start", session_key=f"w:{i}"),
                                at=1.0, wall=100.0))  # fmt: skip
    view = overlay.view(101.0)
    assert view is not None and len(view.sessions) == 143
    assert overlay.next_expiry(101.0) == 100.0 + CONFIRM_WITHIN
    overlay.prune(100.0 + CONFIRM_WITHIN - 0.001)
    assert len(overlay.view(109.0).sessions) == 143  # type: ignore[union-attr]
    overlay.prune(100.0 + CONFIRM_WITHIN)
    view = overlay.view(110.0)
    assert view is not None
    assert [(s.key, s.state) for s in view.sessions] == [("w:real", SessionState.TOOL_RUNNING)]
    assert overlay.next_expiry(110.0) is None


def test_a_snapshot_that_confirms_them_keeps_them() -> None:
    overlay = Overlay("pp", error_ttl=30.0, max_sessions=1000)
    overlay.rebase(make_snapshot("idle"), 0.0)
    overlay.add(
        parse_event("agent_start", envelope("agent_start", session_key="w:a"), at=1, wall=1)
    )
    # The status stream's next frame has it: the truth now, no expiry.
    overlay.rebase(make_snapshot(sessions=[make_session("w:a", state="thinking")]), 1.5)
    assert overlay.next_expiry(2.0) is None
    overlay.prune(1.0 + 10 * CONFIRM_WITHIN)
    assert [s.key for s in overlay.view(100.0).sessions] == ["w:a"]  # type: ignore[union-attr]


def test_a_flood_of_bus_events_the_status_stream_never_confirms_ends_where_it_says() -> None:
    async def main() -> float:
        loop = vloop()
        agent = SimAgent(clock=loop.time)
        async with SimServer(agent, debounce=NEVER, keepalive=30.0) as server:
            rig = await start_bus_rig(server.url, loop.time)
            flooded_at = loop.time()
            for i in range(142):  # bus events only: the server's status never changes
                agent.publish("agent_start", {"session_key": f"websocket:{i}"})
            await rig.shows("active", within=10)
            mark = rig.mark()
            back = await rig.shows("idle", start=mark, within=60)
            assert back.status.sessions == ()
            idle_at = loop.time()
            await rig.finish()
            return idle_at - flooded_at

    took = run_virtual(main)
    assert CONFIRM_WITHIN <= took <= CONFIRM_WITHIN + 1.0


def test_a_session_still_sending_events_keeps_showing_its_latest_one() -> None:
    # A run longer than CONFIRM_WITHIN between two status frames: its agent_start has
    # had its time, but the run is still heard from, so its latest tool shows.
    overlay = Overlay("pp", error_ttl=30.0, max_sessions=1000)
    overlay.rebase(make_snapshot("idle"), 0.0)
    start = parse_event("agent_start", envelope("agent_start", session_key="w:a"), at=1, wall=1)
    overlay.add(start)
    for t in range(2, 30):
        tool = envelope("tool_start", session_key="w:a", name=f"tool{t}")
        overlay.add(parse_event("tool_start", tool, at=t, wall=t))
        overlay.prune(float(t))
        view = overlay.view(float(t))
        assert view is not None
        assert [(s.key, s.tool) for s in view.sessions] == [("w:a", f"tool{t}")]
    assert overlay.next_expiry(29.0) == 29.0 + CONFIRM_WITHIN
    overlay.prune(29.0 + CONFIRM_WITHIN)
    assert overlay.view(40.0).sessions == ()  # type: ignore[union-attr]
    # Heard again after it went quiet: only what came after counts (no agent_start yet).
    overlay.add(parse_event("tool_start", envelope("tool_start", session_key="w:a"), at=41,
                            wall=41))  # fmt: skip
    assert overlay.view(41.0).sessions == ()  # type: ignore[union-attr]
    overlay.add(parse_event("agent_start", envelope("agent_start", session_key="w:a"), at=42,
                            wall=42))  # fmt: skip
    assert [s.state for s in overlay.view(42.0).sessions] == [SessionState.THINKING]  # type: ignore[union-attr]


def test_one_quiet_session_expires_while_a_busy_one_stays() -> None:
    overlay = Overlay("pp", error_ttl=30.0, max_sessions=1000)
    overlay.rebase(make_snapshot("idle"), 0.0)
    for key in ("w:quiet", "w:busy"):
        overlay.add(parse_event("agent_start", envelope("agent_start", session_key=key), at=1,
                                wall=1))  # fmt: skip
    overlay.add(parse_event("thinking", envelope("thinking", session_key="w:busy"), at=8, wall=8))
    assert overlay.next_expiry(9.0) == 1.0 + CONFIRM_WITHIN
    overlay.prune(1.0 + CONFIRM_WITHIN)
    assert [s.key for s in overlay.view(11.0).sessions] == ["w:busy"]  # type: ignore[union-attr]
    assert overlay.next_expiry(11.0) == 8.0 + CONFIRM_WITHIN
