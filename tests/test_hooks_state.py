"""The hooks source's sessions on the virtual clock: real Claude Code runs replayed, and
every way a state could stick (an interrupt, a dead agent, silence, a restart)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.pipeline.model import ConnectionState, Session, SessionState, Snapshot, SourceStatus
from bridge.sources.hooks.adapters import RESERVED
from bridge.sources.hooks.options import Options
from bridge.sources.hooks.source import HooksSource
from bridge.sources.hooks.state import STALE
from harness.vclock import run_virtual, vloop

FIXTURES = Path(__file__).parent / "fixtures" / "hooks"
SID = "e8eda6c9-75e0-4148-b48c-8162e2d087e7"


def rows(name: str) -> list[dict[str, Any]]:
    text = (FIXTURES / "claude" / "sequences" / f"{name}.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()][1:]  # the first line is a note


def hook(name: str, event: str) -> dict[str, Any]:
    """The first ``event`` payload of a recorded sequence."""
    for row in rows(name):
        if row.get("hook", {}).get("hook_event_name") == event:
            payload: dict[str, Any] = row["hook"]
            return payload
    raise LookupError(f"{event} not in {name}")


class Rig:
    """A hooks source running on the virtual clock, with what it published."""

    def __init__(self, tmp: Path, alive: set[int] | None = None, **options: Any) -> None:
        self.seen: list[SourceStatus] = []
        self.alive = alive if alive is not None else set()
        self.source = HooksSource(
            "hooks",
            Options(**options),
            self.seen.append,
            clock=lambda: vloop().time() + 1_000_000.0,
            alive=self.alive.__contains__,
            seen_file=tmp / "seen.json",
        )
        self.tmp = tmp
        self.transcript = tmp / "transcript.jsonl"
        self.transcript.write_text("")

    @property
    def snapshot(self) -> Snapshot:
        status = self.seen[-1]
        assert status.connection is ConnectionState.CONNECTED and status.snapshot is not None
        return status.snapshot

    def session(self, key: str = SID) -> Session | None:
        return next((s for s in self.snapshot.sessions if s.key == key), None)

    def state(self, key: str = SID) -> str | None:
        session = self.session(key)
        return None if session is None else session.raw_state

    def claude(self, payload: dict[str, Any], pid: int | None = None) -> None:
        payload = {**payload, "transcript_path": str(self.transcript)}
        if pid is not None:
            payload[RESERVED] = {"pid": pid}
        self.source.take("claude", payload)

    async def replay(
        self,
        name: str,
        pid: int | None = None,
        at: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """Play a recorded sequence at its own pace: hooks to the source, transcript
        records appended to the file the payloads name."""
        start = vloop().time()
        for row in rows(name):
            wait = start + row["dt"] - vloop().time()
            if wait > 0:
                await asyncio.sleep(wait)
            if at is not None:
                await at(row["dt"])
            if "hook" in row:
                self.claude(row["hook"], pid)
            else:
                with self.transcript.open("a") as f:
                    f.write(json.dumps(row["transcript"]) + "\n")


def scenario(tmp: Path, body: Callable[[Rig], Awaitable[None]], **options: Any) -> None:
    async def main() -> None:
        rig = Rig(tmp, **options)
        task = asyncio.create_task(rig.source.run())
        await asyncio.sleep(0)
        try:
            await body(rig)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run_virtual(main)


def test_a_tool_turn_shows_each_step_then_rests(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        states: list[tuple[str | None, str | None]] = []
        rig.seen.clear()
        await rig.replay("tool_turn")
        for status in rig.seen:
            if status.snapshot is None:
                continue
            s = next(iter(status.snapshot.sessions), None)
            step = (s.raw_state, s.tool) if s else (None, None)
            if not states or states[-1] != step:
                states.append(step)
        assert states == [
            ("thinking", None),
            ("tool_running", "Bash"),
            ("thinking", None),
            ("done", None),
        ]
        session = rig.session()
        assert session is not None
        assert (session.channel, session.title, session.id) == (
            "claude",
            "proj: please run a tool",
            SID[:8],
        )
        await asyncio.sleep(9.5)
        assert rig.state() == "done"
        await asyncio.sleep(1)
        assert rig.session() is None  # rests: known, not shown
        assert rig.source.tracker.sessions[SID].state is None

    scenario(tmp_path, body)


def test_a_permission_request_waits_and_is_never_stale(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        async def check(dt: float) -> None:
            if dt > 8.7:  # the user answered Yes at 8.8 s
                return
            if rig.state() == "waiting_for_user":
                session = rig.session()
                assert session is not None and session.tool == "Bash"
                assert ("detail", "touch /tmp/cc/proj/made.txt") in session.extra

        await rig.replay("permission_turn", at=check)
        assert rig.state() == "done"
        # the same request left unanswered for an hour: still waiting, never stale
        rig.claude(hook("permission_turn", "PermissionRequest"))
        await asyncio.sleep(3600)
        assert rig.state() == "waiting_for_user"

    scenario(tmp_path, body)


@pytest.mark.parametrize(
    ("name", "esc"),
    [("esc_while_tool_runs", 2.75), ("esc_while_streaming", 3.83), ("permission_esc", 2.64)],
)
def test_an_esc_shows_the_users_turn_within_two_seconds(
    tmp_path: Path, name: str, esc: float
) -> None:
    """Claude fires no hook on Esc; its transcript gets a marker ~0.25 s later."""

    async def body(rig: Rig) -> None:
        start = vloop().time()
        await rig.replay(name)
        before = rig.state()
        assert before in ("thinking", "tool_running", "waiting_for_user", "interrupted")
        while rig.state() != "interrupted":
            assert vloop().time() - start < esc + 2.0, "no interrupt shown within 2 s of Esc"
            await asyncio.sleep(0.1)
        await asyncio.sleep(10.5)
        assert rig.session() is None

    scenario(tmp_path, body)


def test_without_transcripts_an_esc_is_not_seen(tmp_path: Path) -> None:
    """The transcript is the only signal: with it off, the session still looks busy."""

    async def body(rig: Rig) -> None:
        await rig.replay("esc_while_tool_runs")
        await asyncio.sleep(5)
        assert rig.state() == "tool_running"

    scenario(tmp_path, body, transcripts=False)


def test_an_esc_before_the_model_answered_dims_at_the_thinking_ceiling(tmp_path: Path) -> None:
    """No hook, no transcript record: only silence. Thinking for 5 min with no news is
    shown as stale, never as a confident "thinking"; the next prompt revives it."""

    async def body(rig: Rig) -> None:
        await rig.replay("esc_before_answer")
        assert rig.state() == "thinking"
        await asyncio.sleep(290)
        assert rig.state() == "thinking"
        await asyncio.sleep(15)
        session = rig.session()
        assert session is not None
        assert (session.state, session.raw_state) == (SessionState.THINKING, STALE)
        assert ("stale", "no news") in session.extra
        rig.claude(hook("text_turn", "UserPromptSubmit"))
        assert rig.state() == "thinking"

    scenario(tmp_path, body)


def test_a_tool_with_no_news_goes_stale_and_news_brings_it_back(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        rig.claude(hook("esc_while_tool_runs", "PreToolUse"))
        await asyncio.sleep(599)
        assert rig.state() == "tool_running"
        await asyncio.sleep(2)
        assert rig.state() == STALE
        with rig.transcript.open("a") as f:  # the transcript grew: news
            f.write('{"type": "progress"}\n')
        await asyncio.sleep(1.5)
        assert rig.state() == "tool_running"

    scenario(tmp_path, body, tool_ceiling=600.0)


def test_a_dead_agent_leaves_within_five_seconds(tmp_path: Path) -> None:
    """kill -9 of claude while a tool ran: no hook at all (sequences/sigkill.jsonl)."""

    async def body(rig: Rig) -> None:
        rig.alive.add(4242)
        await rig.replay("sigkill", pid=4242)
        assert rig.state("bfdd324b-bcc3-464c-bf1e-4ff9a09f71a6") == "tool_running"
        killed = vloop().time()
        rig.alive.discard(4242)
        while rig.session("bfdd324b-bcc3-464c-bf1e-4ff9a09f71a6") is not None:
            assert vloop().time() - killed < 5.0
            await asyncio.sleep(0.1)
        assert "bfdd324b-bcc3-464c-bf1e-4ff9a09f71a6" not in rig.source.tracker.sessions

    scenario(tmp_path, body)


def test_subagents_are_child_sessions_that_outlive_the_main_stop(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        child_seen: list[str | None] = []

        async def check(dt: float) -> None:
            for s in rig.snapshot.sessions if rig.seen else ():
                if s.parent == SID:
                    child_seen.append(rig.state(SID))

        await rig.replay("subagent", at=check)
        children = [s for s in rig.source.tracker.sessions.values() if s.parent == SID]
        assert child_seen and "done" in child_seen  # the main turn ended while its child ran
        start = hook("subagent", "SubagentStart")
        key = f"{SID}/{start['agent_id']}"
        assert all(c.key != key for c in children) or rig.state(key) == "done"
        await asyncio.sleep(11)
        assert rig.session(key) is None

    scenario(tmp_path, body)


def test_a_failure_stays_until_the_next_prompt(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        await rig.replay("stop_failure")
        session = rig.session()
        assert session is not None and session.state is SessionState.ERROR
        assert session.error == "unknown: API Error: 400 stand-in 400"
        await asyncio.sleep(3600)
        assert rig.state() == "error"
        rig.claude(hook("stop_failure", "UserPromptSubmit"))
        assert rig.state() == "thinking"

    scenario(tmp_path, body)


def test_session_end_leaves_at_once_and_an_unknown_end_is_ignored(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        prompt = hook("text_turn", "UserPromptSubmit")
        rig.claude(prompt)
        assert rig.state() == "thinking"
        await rig.replay("exit")
        assert rig.snapshot.sessions == ()
        await rig.replay("terminal_killed")  # a session never seen before ends
        assert rig.snapshot.sessions == () and rig.source.tracker.sessions == {}

    scenario(tmp_path, body)


def test_a_restarted_bridge_shows_nothing_until_the_next_event(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        assert rig.snapshot.sessions == ()
        rig.claude(
            hook("tool_turn", "PostToolUse")
        )  # the first event after the restart brings the session back
        assert rig.state() == "thinking"

    scenario(tmp_path, body)


def test_unknown_events_are_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def body(rig: Rig) -> None:
        prompt = hook("text_turn", "UserPromptSubmit")
        for _ in range(50):
            rig.claude({**prompt, "hook_event_name": "Teleport"})
            rig.source.take("claude", {"nothing": 1})
        assert rig.state() is None  # a NOTE for a new session shows nothing yet

    with caplog.at_level(logging.WARNING, logger="agentlight.sources.hooks"):
        scenario(tmp_path, body)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Teleport" in m for m in messages) == 1
    assert sum("no session_id" in m for m in messages) == 1


def test_sessions_are_bounded(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        prompt = hook("text_turn", "UserPromptSubmit")
        for i in range(30):
            rig.claude({**prompt, "session_id": f"s{i}"})
        assert len(rig.source.tracker.sessions) == 10
        assert rig.source.tracker.dropped == 20

    scenario(tmp_path, body, max_sessions=10)


def test_watching_twenty_transcripts_costs_one_stat_per_session_per_second(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        prompt = hook("text_turn", "UserPromptSubmit")
        for i in range(20):
            path = tmp_path / f"t{i}.jsonl"
            path.write_text("")
            rig.source.take(
                "claude", {**prompt, "session_id": f"s{i}", "transcript_path": str(path)}
            )
        await asyncio.sleep(60)
        stats = sum(t.tail.stats for t in rig.source.tracker.sessions.values() if t.tail)
        assert 20 * 60 <= stats <= 20 * 62

    scenario(tmp_path, body)


def test_a_stale_session_looks_dim_and_says_no_news() -> None:
    from bridge.pipeline.theme import default_theme
    from bridge.text.statusline import session_words

    stale = Session("k", "k", "claude", SessionState.TOOL_RUNNING, tool="Bash", raw_state=STALE)
    assert session_words(stale) == "no news (running Bash)"
    running = default_theme().session_look(SessionState.TOOL_RUNNING, tool="Bash", channel="claude")
    dim = default_theme().session_look(
        SessionState.TOOL_RUNNING, tool="Bash", channel="claude", raw=STALE
    )
    assert dim.brightness < running.brightness and dim.effect == "solid"
    assert dim.label == "No news"


def test_a_marker_is_not_lost_to_an_event_that_comes_before_the_next_poll(
    tmp_path: Path,
) -> None:
    async def body(rig: Rig) -> None:
        rig.claude(hook("esc_while_tool_runs", "PreToolUse"))
        await asyncio.sleep(1.5)
        marker = next(
            r["transcript"]
            for r in rows("esc_while_tool_runs")
            if "transcript" in r and "interrupted by user" in json.dumps(r["transcript"])
        )
        with rig.transcript.open("a") as f:
            f.write(json.dumps(marker) + "\n")
        rig.claude(hook("permission_turn", "PermissionRequest"))  # before the next poll
        await asyncio.sleep(1.1)
        assert rig.state() == "interrupted"

    scenario(tmp_path, body)


def test_a_zombie_agent_is_not_alive() -> None:
    """``kill -9`` leaves the agent a zombie until its terminal reaps it: that is gone."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from bridge.sources.hooks.state import pid_alive

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pid_alive(child.pid):  # not reaped yet: a zombie
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert os.path.exists(f"/proc/{child.pid}") or sys.platform != "linux"
    finally:
        child.kill()
        child.wait()
    assert not pid_alive(child.pid)
    assert pid_alive(os.getpid())
