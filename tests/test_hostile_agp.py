"""Issue 30 against AgP: linear parsing of subagent IDs, caps, clamped numbers, bad replies.

Work is counted in bytecodes (``tests/opcount.py``), not timed: doubling the input
must about double the work (a quadratic parser quadruples it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from bridge.infra.secret import Secret
from bridge.pipeline import bounds
from bridge.pipeline.model import AgentStatus, ConnectionState, GlobalState, SessionState
from bridge.pipeline.status_json import status_to_json
from bridge.simulator.agp import SimAgp
from bridge.simulator.faults import Fault
from bridge.sources.agp.options import Options
from bridge.sources.agp.parse import MAX_SUBAGENTS, AgpStatus, parse_status, to_session
from bridge.sources.agp.source import AgpSource, _Watch
from harness.vclock import run_virtual
from tests.agp_helpers import KEY, agp_server, keys, raw, session, watching
from tests.opcount import Key, count_ops, growth

AGP_LOG = "agentlight.sources.agp"


def _reply(n: int) -> dict[str, Any]:
    return {"status": "running", "subagent_session_ids": [Key(f"sub-{i}") for i in range(n)]}


# -- item 1: subagent IDs in linear time, capped --------------------------------------------


def test_subagent_ids_parse_in_linear_time() -> None:
    def make(n: int) -> Callable[[], object]:
        data = _reply(n)
        return lambda: parse_status(data)

    # A list's `in` made this 4x per doubling (10k IDs 0.9 s, 60k 28.6 s).
    assert growth(make, 400) < 2.2


def test_repeated_subagent_ids_are_linear_too() -> None:
    def make(n: int) -> Callable[[], object]:
        # Every ID twice: dedupe must not compare each with all before it.
        ids = [Key(f"sub-{i % (n // 2)}") for i in range(n)]
        data = {"status": "running", "subagent_session_ids": ids}
        return lambda: parse_status(data)

    assert growth(make, 400) < 2.2
    parsed = parse_status({"status": "running", "subagent_session_ids": ["a", "b", "a", "c"]})
    assert parsed.subagents == ("a", "b", "c")


def test_subagent_ids_past_the_cap_are_counted_not_read() -> None:
    ids = [f"sub-{i}" for i in range(150_000)]  # what a 1 MiB body holds
    parsed = parse_status({"status": "running", "subagent_session_ids": ids})
    assert parsed.subagents == tuple(ids[:MAX_SUBAGENTS])
    assert parsed.subagents_dropped == 150_000 - MAX_SUBAGENTS
    # The work past the cap is nil: 150k IDs cost what 1,000 do.
    small = {"status": "running", "subagent_session_ids": ids[:MAX_SUBAGENTS]}
    big = {"status": "running", "subagent_session_ids": ids}
    assert count_ops(lambda: parse_status(big)) <= count_ops(lambda: parse_status(small)) * 1.01


def test_following_subagents_is_linear() -> None:
    """The source's merge of a reply (follow + reorder) grows with the reply, no faster."""

    def make(n: int) -> Callable[[], object]:
        source = AgpSource(
            "agp",
            Options(url="http://127.0.0.1:9", api_key=Secret(KEY), max_sessions=10_000),
            lambda status: None,
        )
        parent = _Watch("p", None, listed=True)
        source._watches = {"p": parent}
        status = AgpStatus("running", subagents=tuple(Key(f"sub-{i}") for i in range(n)))

        def run() -> None:
            source._update(parent, status, 0.0)
            source._update(parent, status, 1.0)  # the same reply again: nothing new

        return run

    assert growth(make, 400) < 2.3


def test_a_reply_over_the_cap_is_said_once_and_counted_in_the_detail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("p", "running")
        agp.sessions["p"].subagents = [f"sub-{i}" for i in range(MAX_SUBAGENTS + 500)]
        async with (
            agp_server(agp) as server,
            watching(server, sessions=("p",), subagents=False) as w,
        ):
            status = await w.rec.wait_for(lambda s: "500 subagent IDs" in (s.detail or ""), 10)
            assert status.connection is ConnectionState.CONNECTED
            await asyncio.sleep(30)  # ten more replies over the cap
            mark = w.rec.mark()
            agp.sessions["p"].subagents = ["sub-1"]
            await w.rec.wait_for(lambda s: "subagent IDs" not in (s.detail or ""), 30, mark)

    with caplog.at_level(logging.INFO, logger=AGP_LOG):
        run_virtual(main)
    over = [r for r in caplog.records if "over the cap" in r.getMessage()]
    assert len(over) == 1, [r.getMessage() for r in over]
    assert any("back under the cap" in r.getMessage() for r in caplog.records)


# -- item 4: numbers clamped where they are parsed -----------------------------------------


HUGE = 10**4000  # under json's 4,300-digit limit; two of them summed are not


def test_huge_steps_and_tokens_are_clamped_so_everything_prints() -> None:
    body = {
        "status": "running",
        "steps": HUGE,
        "usage_per_model": [
            {"name": f"m{i}", "input_tokens": HUGE, "output_tokens": HUGE, "reasoning_tokens": HUGE}
            for i in range(32)
        ],
    }
    parsed = parse_status(json.loads(json.dumps(body)))
    assert parsed.steps == bounds.MAX_COUNT
    one = to_session("s", parsed, source="agp", since=1.0)
    assert one.tokens is not None and one.tokens.total == 32 * 3 * bounds.MAX_COUNT
    # What failed before: the record line, status --json, a float division.
    doc = status_to_json(AgentStatus(GlobalState.ACTIVE, (one,)), 2.0)
    assert json.loads(json.dumps(doc))["sessions"][0]["steps"] == bounds.MAX_COUNT
    assert one.tokens.total / 1000 > 0
    assert str(one.tokens.total)


@pytest.mark.parametrize("value", [-1, True, 1.5, "12", None, [], {}])
def test_steps_that_are_not_counts_are_dropped(value: object) -> None:
    assert parse_status({"status": "running", "steps": value}).steps is None


# -- item 8: a reply that is not a session status shows "unreadable", never Idle -------------


BAD_REPLIES = {
    "redirect": (Fault("status", status=302, body=b"", headers={"Location": "http://x/"}), "302"),
    "not JSON": (Fault("garbage", payload=b"<html>oops</html>"), "not JSON"),
    "wrong shape": (Fault("garbage", payload=b"[1, 2, 3]"), "not a session status"),
    "no status": (Fault("garbage", payload=b'{"status": 5}'), "not a session status"),
    "too large": (Fault("huge_frame", size=2 * 1024 * 1024), "max_body_bytes"),
}


@pytest.mark.parametrize("kind", list(BAD_REPLIES))
def test_a_reply_that_is_not_a_status_shows_the_session_unreadable(kind: str) -> None:
    fault, reason = BAD_REPLIES[kind]

    async def main() -> None:
        agp = SimAgp()
        agp.create("s", "running")
        async with agp_server(agp) as server:
            for _ in range(3):
                server.faults.append(dataclasses.replace(fault))
            async with watching(server, sessions=("s",)) as w:
                status = await w.rec.wait_for(lambda s: raw(s) == {"s": "unreadable"}, within=30)
                one = session(status, "s")
                assert one is not None and one.state is SessionState.ERROR
                assert one.error is not None and reason in one.error
                assert status.global_state is GlobalState.DEGRADED
                assert "1 session unreadable" in (status.detail or "")
                # Good replies again: the session's own state, the source healthy.
                back = await w.rec.wait_for(lambda s: raw(s) == {"s": "running"}, within=120)
                assert "unreadable" not in (back.detail or "")
                # Never shown as gone, never Idle, while it was watched.
                shown = [s for s in w.rec.statuses if s.snapshot is not None]
                assert all(keys(s) == ["s"] for s in shown[1:])
                assert all(s.global_state is not GlobalState.IDLE for s in shown[1:])

    run_virtual(main)


def test_a_session_known_before_turns_unreadable_rather_than_keeping_a_stale_state() -> None:
    async def main() -> None:
        agp = SimAgp()
        agp.create("s", "paused")
        async with agp_server(agp) as server, watching(server, sessions=("s",)) as w:
            await w.rec.wait_for(lambda s: raw(s) == {"s": "paused"}, within=10)
            server.faults.append(Fault("garbage", payload=b"{}"))
            status = await w.rec.wait_for(lambda s: raw(s) == {"s": "unreadable"}, within=30)
            assert status.global_state is GlobalState.DEGRADED
            await w.rec.wait_for(lambda s: raw(s) == {"s": "paused"}, within=60)

    run_virtual(main)


def test_a_watched_session_keeps_no_subagent_list_once_followed() -> None:
    """200 sessions each keeping their last 1,000 subagent IDs held 11 MB."""
    source = AgpSource(
        "agp", Options(url="http://127.0.0.1:9", api_key=Secret(KEY)), lambda status: None
    )
    parent = _Watch("p", None, listed=True)
    source._watches = {"p": parent}
    source._update(parent, AgpStatus("running", subagents=("a", "b", "c")), 0.0)
    assert parent.status is not None and parent.status.subagents == ()
    assert parent.session is not None and dict(parent.session.extra) == {"subagents": "3"}
    assert list(source._watches) == ["p", "a", "b", "c"]
