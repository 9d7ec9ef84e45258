"""Each agent's event sequence through the real chain: ``agentlight hook`` (a process,
as the agent runs it) or Claude's ``http`` path → the local API of a real
``agentlight run`` on 127.0.0.1 → the hooks source → a record device."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.infra.local_api import post
from harness.procs import read_records
from tests.bridge_proc import environ, running_bridge

pytest.importorskip("aiohttp")

FIXTURES = Path(__file__).parent / "fixtures" / "hooks"


@dataclass
class Bridge:
    url: str
    run: Path
    record: Path
    token: str | None

    def frames(self) -> list[dict[str, Any]]:
        return read_records(self.record)

    def sessions(self) -> list[dict[str, Any]]:
        frames = self.frames()
        return frames[-1]["sessions"] if frames else []

    async def until(
        self, test: Callable[[list[dict[str, Any]]], bool], within: float = 5.0
    ) -> list[dict[str, Any]]:
        """The shown sessions once ``test`` holds for them (checked as frames arrive)."""
        async with asyncio.timeout(within):
            while True:
                sessions = self.sessions()
                if test(sessions):
                    return sessions
                await asyncio.sleep(0.02)

    async def hook(self, agent: str, payload: Any, *, argv: bool = False) -> float:
        """Run ``agentlight hook AGENT`` as an agent would; seconds it took."""
        data = json.dumps(payload)
        args = [sys.executable, "-m", "bridge", "hook", agent, *([data] if argv else [])]
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *args,
            env=environ(self.run),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await proc.communicate(b"" if argv else data.encode())
        assert (proc.returncode, out, err) == (0, b"", b"")
        return time.monotonic() - started

    def http(self, agent: str, payload: Any) -> int | None:
        """POST as Claude's ``http`` hooks do (no ``agentlight hook`` in between)."""
        return post(self.url, f"/v1/hooks/{agent}", payload, None, time.monotonic() + 2)


RECORD = '[[devices]]\ntype = "record"\npath = "record.jsonl"\n'


@asynccontextmanager
async def bridge(tmp: Path, extra: str = "", devices: str = RECORD) -> AsyncIterator[Bridge]:
    run = tmp / "run"
    run.mkdir(mode=0o700, parents=True)
    config = tmp / "agentlight.toml"
    config.write_text(
        '[bridge]\nlog_level = "info"\n\n[api]\nlisten = "127.0.0.1:0"\n\n'
        f'[[sources]]\ntype = "hooks"\n{extra}\n' + devices
    )
    async with running_bridge(config, run):
        found = json.loads((run / "agentlight" / "api.json").read_text())
        yield Bridge(found["url"], run, tmp / "record.jsonl", found.get("token"))


def states(sessions: list[dict[str, Any]]) -> list[str]:
    return [s["raw_state"] for s in sessions]


def lines(name: str) -> list[Any]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


def claude_hooks(name: str) -> list[dict[str, Any]]:
    return [row["hook"] for row in lines(f"claude/sequences/{name}.jsonl")[1:] if "hook" in row]


async def test_claude_through_agentlight_hook(tmp_path: Path) -> None:
    """A tool turn, a permission request, an interrupt (read from the transcript), a
    failure, an exit: each state on the record device."""
    transcript = tmp_path / "transcript.jsonl"
    transcript.write_text("")

    def at(payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "transcript_path": str(transcript)}

    async with bridge(tmp_path, "show_done_for = 1.0\n") as b:
        turn = claude_hooks("tool_turn")
        await b.hook("claude", at(turn[0]))  # UserPromptSubmit
        shown = await b.until(lambda s: states(s) == ["thinking"])
        assert shown[0]["title"] == "proj: please run a tool"
        assert shown[0]["channel"] == "claude"
        await b.hook("claude", at(turn[1]))  # PreToolUse
        shown = await b.until(lambda s: states(s) == ["tool_running"])
        assert shown[0]["tool"] == "Bash" and shown[0]["extra"]["detail"] == "sleep 2; echo done"
        for payload in turn[2:]:
            await b.hook("claude", at(payload))
        await b.until(lambda s: states(s) == ["done"])
        await b.until(lambda s: s == [], within=3)  # rests after show_done_for

        ask = claude_hooks("permission_turn")
        for payload in ask[:3]:  # prompt, tool, message
            await b.hook("claude", at(payload))
        # Claude runs the PermissionRequest hook beside its own dialog; the bridge holds
        # it for a device (tests/test_answer_hooks.py), so it runs in the background here.
        held = asyncio.create_task(b.hook("claude", at(ask[3])))
        shown = await b.until(lambda s: states(s) == ["waiting_for_user"])
        assert shown[0]["extra"]["detail"] == "touch /tmp/cc/proj/made.txt"

        # Esc on the dialog: no hook; the transcript's marker ends the wait.
        for row in lines("claude/sequences/permission_esc.jsonl")[1:]:
            if "transcript" in row:
                with transcript.open("a") as f:
                    f.write(json.dumps(row["transcript"]) + "\n")
        escaped = time.monotonic()
        await b.until(lambda s: states(s) == ["interrupted"], within=2.5)
        assert time.monotonic() - escaped < 2.5
        # The held request is let go with no decision: silent, exit 0 (b.hook checks).
        await asyncio.wait_for(held, 5)

        fail = claude_hooks("stop_failure")
        for payload in fail:
            await b.hook("claude", at(payload))
        shown = await b.until(lambda s: states(s) == ["error"])
        assert shown[0]["error"] == "unknown: API Error: 400 stand-in 400"

        await b.hook("claude", at(claude_hooks("exit")[0]))
        await b.until(lambda s: s == [])


async def test_claude_through_its_http_hooks(tmp_path: Path) -> None:
    async with bridge(tmp_path) as b:
        turn = claude_hooks("tool_turn")
        assert b.http("claude", turn[0]) == 200
        await b.until(lambda s: states(s) == ["thinking"])
        assert b.http("claude", turn[1]) == 200
        await b.until(lambda s: states(s) == ["tool_running"])
        assert b.http("nobody", turn[1]) == 404
        # hooks status: the last event the running bridge saw
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bridge", "hooks", "status"),
            env={**environ(b.run), "HOME": str(tmp_path)},
            stdout=subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        line = next(x for x in out.decode().splitlines() if x.strip().startswith("claude"))
        # (written at most every 2 s: the first event at once, the next one later)
        assert "not wired" in line and "last event UserPromptSubmit" in line and " ago" in line


async def test_a_dead_agent_leaves_within_five_seconds(tmp_path: Path) -> None:
    """The hook's parent is the agent: when that process goes, its session goes."""
    async with bridge(tmp_path) as b:
        payload = claude_hooks("tool_turn")[1]  # PreToolUse
        script = (
            "import subprocess, sys, time\n"
            f"subprocess.run([sys.executable, '-m', 'bridge', 'hook', 'claude'], "
            f"input={json.dumps(json.dumps(payload))}.encode(), check=True)\n"
            "time.sleep(60)\n"
        )
        agent = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, env=environ(b.run)
        )
        try:
            await b.until(lambda s: states(s) == ["tool_running"], within=10)
        finally:
            agent.kill()
            await agent.wait()
        killed = time.monotonic()
        await b.until(lambda s: s == [], within=5)
        assert time.monotonic() - killed < 5


SEQUENCES: dict[str, list[tuple[int, str | None]]] = {
    # (payloads sent so far, the state shown after them; None: nothing shown)
    "codex": [
        (2, "thinking"),
        (3, "tool_running"),
        (5, "waiting_for_user"),
        (6, "interrupted"),
        (8, "error"),
        (10, "done"),
        (11, None),
    ],
    "gemini": [
        (2, "thinking"),
        (3, "tool_running"),
        (4, "waiting_for_user"),
        (6, "done"),
        (7, None),
    ],
    "cursor": [
        (2, "thinking"),
        (3, "tool_running"),
        (6, "interrupted"),
        (8, "error"),
        (10, "done"),
        (11, None),
    ],
    "opencode": [
        (2, "thinking"),
        (3, "tool_running"),
        (4, "waiting_for_user"),
        (8, "interrupted"),
        (10, "error"),
        (12, "done"),
        (14, None),
    ],
    "generic": [
        (1, "thinking"),
        (2, "tool_running"),
        (3, "waiting_for_user"),
        (4, "error"),
        (5, "done"),
        (6, None),
    ],
}


@pytest.mark.parametrize("agent", sorted(SEQUENCES))
async def test_each_agents_documented_sequence(tmp_path: Path, agent: str) -> None:
    payloads = lines(f"{agent}/sequence.jsonl")
    async with bridge(tmp_path) as b:
        sent = 0
        for upto, state in SEQUENCES[agent]:
            for payload in payloads[sent:upto]:
                if agent == "generic":
                    assert b.http("generic", payload) == 200  # what agentlight notify sends
                else:
                    await b.hook(agent, payload)
            sent = upto
            want = [state] if state else []

            def shown(sessions: list[dict[str, Any]], want: list[str] = want) -> bool:
                return states(sessions) == want

            await b.until(shown)


async def test_codex_notify_passes_its_json_as_the_last_argument(tmp_path: Path) -> None:
    async with bridge(tmp_path) as b:
        await b.hook(
            "codex", json.loads((FIXTURES / "codex" / "notify.json").read_text()), argv=True
        )
        shown = await b.until(lambda s: states(s) == ["done"])
        assert shown[0]["title"] == "shop-api: Rename `foo` to `bar` and update…"


async def test_agentlight_notify(tmp_path: Path) -> None:
    async with bridge(tmp_path) as b:
        args = [
            "notify",
            "--session",
            "nightly",
            "--state",
            "tool_running",
            "--tool",
            "pytest",
            "--title",
            "nightly build",
        ]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", *args, env=environ(b.run), stderr=subprocess.PIPE
        )
        _, err = await proc.communicate()
        assert proc.returncode == 0, err
        shown = await b.until(lambda s: states(s) == ["tool_running"])
        assert (shown[0]["title"], shown[0]["tool"], shown[0]["channel"]) == (
            "nightly build",
            "pytest",
            "generic",
        )


def test_hook_without_a_bridge_is_silent_and_exits(tmp_path: Path) -> None:
    """How quick (200 ms) is a budget: ``python -m benchmarks --only hooks`` measures it.
    Here the timeout only catches a hook that would hang an agent waiting on it."""
    payload = (FIXTURES / "claude" / "events" / "PreToolUse.json").read_bytes()
    run = tmp_path / "run"
    run.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "hook", "claude"],
        input=payload,
        env=environ(run),
        capture_output=True,
        timeout=10,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    # nor with a stale discovery file (a bridge that was killed), nor a wrong agent name
    (run / "agentlight").mkdir()
    (run / "agentlight" / "api.json").write_text('{"url": "http://127.0.0.1:9", "pid": 999999}')
    for argv in (["claude"], ["Bad Name"], [], ["claude", "a", "b", "c"]):
        done = subprocess.run(
            [sys.executable, "-m", "bridge", "hook", *argv],
            input=payload,
            env=environ(run),
            capture_output=True,
            timeout=10,
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), argv


def test_hook_gives_up_after_one_second_on_a_bridge_that_never_answers(tmp_path: Path) -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # accepts (in the backlog), never answers
        port = server.getsockname()[1]
        run = tmp_path / "run"
        (run / "agentlight").mkdir(mode=0o700, parents=True)  # only ours: trusted whatever umask
        discovery = {"url": f"http://127.0.0.1:{port}", "pid": os.getpid()}
        (run / "agentlight" / "api.json").write_text(json.dumps(discovery))
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "bridge", "hook", "claude"],
            input=(FIXTURES / "claude" / "events" / "Stop.json").read_bytes(),
            env=environ(run),
            capture_output=True,
            timeout=10,
        )
        took = time.monotonic() - started
    assert (done.returncode, done.stdout) == (0, b"")
    assert 1.0 <= took < 3.0


async def test_several_machines_one_light_through_mosquitto(tmp_path: Path) -> None:
    """The recipe: a hooks source and an mqtt device on each laptop, an mqtt source on
    the desk's Pi; sessions named by machine."""
    from tests.mosquitto import Broker

    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    try:
        pi_dir = tmp_path / "pi"
        pi_dir.mkdir()
        (pi_dir / "agentlight.toml").write_text(
            f'[[sources]]\ntype = "mqtt"\nhost = "{broker.host}"\nport = {broker.port}\n'
            'prefix = "agentlight/+"\n\n' + RECORD
        )
        pi = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridge",
            "run",
            "-c",
            str(pi_dir / "agentlight.toml"),
            env=environ(pi_dir),
            cwd=pi_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            laptops = []
            for name in ("laptop-a", "laptop-b"):
                mqtt = (
                    f'[[devices]]\ntype = "mqtt"\nhost = "{broker.host}"\n'
                    f'port = {broker.port}\nprefix = "agentlight/{name}"\nhomeassistant = false\n'
                )
                laptops.append(bridge(tmp_path / name, f'machine = "{name}"\n', mqtt))
            async with laptops[0] as a, laptops[1] as b:
                turn = claude_hooks("tool_turn")
                await a.hook("claude", turn[1])  # laptop-a: a tool runs
                await b.hook("claude", {**turn[0], "session_id": "other"})  # laptop-b thinks
                desk = Bridge("", pi_dir, pi_dir / "record.jsonl", None)
                shown = await desk.until(lambda s: len(s) == 2, within=20)
        finally:
            pi.terminate()
            await pi.wait()
    finally:
        broker.stop()
    by_source = {s["source"]: s for s in shown}
    assert set(by_source) == {"agentlight/laptop-a/hooks", "agentlight/laptop-b/hooks"}
    assert by_source["agentlight/laptop-a/hooks"]["state"] == "tool_running"
    assert by_source["agentlight/laptop-a/hooks"]["title"].startswith("laptop-a · proj")
    assert by_source["agentlight/laptop-b/hooks"]["state"] == "thinking"
