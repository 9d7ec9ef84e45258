"""Coding agents' permission requests answered from a device, end to end on 127.0.0.1.

In process: the engine with the local API, the hooks source and a dummy Stream Deck whose
presses come through the streamdeck library's reader thread; a request POSTed as Claude
Code's ``http`` hook does, its reply read back. As a user runs it: ``agentlight run`` and
``agentlight hook claude`` as processes. On the virtual clock: the agent's timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.api.host import ApiHost
from bridge.api.options import ApiOptions
from bridge.app import route_hooks
from bridge.engine import Device, Engine
from bridge.pipeline.model import SessionRef, SessionState
from bridge.pipeline.theme import default_theme
from bridge.sources.hooks.options import Options
from bridge.sources.hooks.permissions import reply_for
from bridge.sources.hooks.source import HooksSource
from harness.procs import read_records
from harness.vclock import run_virtual
from tests.bridge_proc import agentlight, environ, running_bridge
from tests.conftest import eventually

pytest.importorskip("aiohttp")
pytest.importorskip("StreamDeck")
pytest.importorskip("PIL")

from devices.streamdeck.driver import StreamDeckDriver, StreamDeckOptions
from tests.deckkeys import DeckKeys

REPLIES = Path(__file__).parent / "fixtures" / "hooks" / "claude" / "replies"
#: The PermissionRequest the real Claude Code 2.1.332 sent in the run that got the replies.
REQUEST: dict[str, Any] = json.loads((REPLIES / "request.json").read_text())
SID = REQUEST["session_id"]
REF = SessionRef("hooks", SID)


def request(command: str | None = None, **fields: Any) -> dict[str, Any]:
    payload = json.loads(json.dumps(REQUEST))
    if command is not None:
        payload["tool_input"]["command"] = command
    payload.update(fields)
    return payload


def reply_file(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPLIES / f"{name}.json").read_text())
    return data


def test_the_replies_are_those_sent_to_the_real_claude_code() -> None:
    suggestions = REQUEST["permission_suggestions"]
    assert reply_for("allow", suggestions, "x") == reply_file("allow")
    assert reply_for("always", suggestions, "x") == reply_file("always")
    message = "The user denied this from agentlight (deck key:4)."
    assert reply_for("deny", suggestions, message) == reply_file("deny")
    assert reply_for("dismiss", suggestions, "x") == reply_file("none") == {}


# -- in process: engine, API, hooks source, a dummy deck ----------------------------------


@dataclass
class Rig(DeckKeys):
    engine: Engine
    host: ApiHost
    source: HooksSource
    deck: StreamDeckDriver
    skew: list[float]

    @property
    def url(self) -> str:
        assert self.host.server is not None
        return self.host.server.url

    @property
    def token(self) -> str:
        token: str = json.loads(self.host.discovery_path.read_text())["token"]
        return token

    def post_hook(self, payload: dict[str, Any], agent: str = "claude") -> asyncio.Task[Any]:
        """POST ``payload`` as Claude's ``http`` hook does; the task gives (status, body)."""

        async def go() -> tuple[int, Any]:
            async with httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=60) as c:
                response = await c.post(f"/v1/hooks/{agent}", json=payload)
                return response.status_code, response.json()

        return asyncio.create_task(go())

    def session(self) -> Any:
        return self.engine.status.find(REF)


@asynccontextmanager
async def rig(tmp_path: Path, **options: Any) -> AsyncIterator[Rig]:
    skew = [0.0]
    deck = StreamDeckDriver(
        "deck",
        StreamDeckOptions(dummy=True, poll_hz=50),
        mono=lambda: time.monotonic() + skew[0],
    )
    engine = Engine([Device(deck)], default_theme())
    source = HooksSource(
        "hooks",
        Options(transcripts=False, **options),
        engine.publish,
        seen_file=tmp_path / "seen.json",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([source], stop))
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    host = ApiHost(engine, environ={"XDG_RUNTIME_DIR": str(run_dir)})
    route_hooks(host, engine)
    try:
        await host.apply(ApiOptions(listen="127.0.0.1:0"))
        await eventually(lambda: deck.is_open)
        yield Rig(engine, host, source, deck, skew)
    finally:
        await host.close()
        stop.set()
        await task


async def test_a_claude_permission_request_is_allowed_from_a_held_deck_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with rig(tmp_path) as r:
        reply = r.post_hook(request())
        allow = await r.shows("allow")
        session = r.session()
        assert session is not None and session.state is SessionState.WAITING_FOR_USER
        assert session.ask is not None and session.ask.command == REQUEST["tool_input"]["command"]
        assert r.key_of("always") is not None  # Claude offered "always allow" suggestions
        r.press(allow, held=0.7)
        status, body = await asyncio.wait_for(reply, 5)
        assert (status, body) == (200, reply_file("allow"))
        await eventually(lambda: r.key_of("allow") is None)
    line = next(m for m in caplog.messages if m.startswith("answer: hooks/"))
    assert "permission Bash: touch /tmp/answer-cc/proj/made.txt -> Allow (hold on deck key:" in line


async def test_a_stray_press_on_allow_does_nothing_and_always_passes_the_suggestions(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        reply = r.post_hook(request())
        always = await r.shows("always")
        r.press(always)  # one tap: armed, nothing sent
        await eventually(lambda: r.engine.desk.view().armed_on("deck") is not None)
        await asyncio.sleep(0.3)
        assert not reply.done() and r.source.permissions.holding == 1
        r.press(always)  # the confirming press
        status, body = await asyncio.wait_for(reply, 5)
        assert (status, body) == (200, reply_file("always"))


async def test_a_deny_from_the_api(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        reply = r.post_hook(request())
        await eventually(lambda: r.session() is not None and r.session().ask is not None)
        body = {"target": "session", "source": "hooks", "key": SID, "action": "deny"}
        async with httpx.AsyncClient(base_url=r.url, trust_env=False) as client:
            auth = {"Authorization": f"Bearer {r.token}"}
            assert (await client.post("/v1/input", json=body, headers=auth)).status_code == 202
        status, answer = await asyncio.wait_for(reply, 5)
        decision = answer["hookSpecificOutput"]["decision"]
        assert status == 200 and decision["behavior"] == "deny"
        assert decision["message"] == "The user denied this from agentlight (api api)."


async def test_a_dangerous_command_is_refused_from_the_device_under_the_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with rig(tmp_path) as r:
        reply = r.post_hook(request("rm -rf build && git push --force"))
        allow = await r.shows("allow")
        session = r.session()
        assert session is not None and session.ask is not None
        assert session.ask.danger == "rm -rf" and session.ask.locked == "dangerous (rm -rf)"
        r.press(allow, held=0.8)  # even held
        await eventually(lambda: any("answer refused" in m for m in caplog.messages))
        await asyncio.sleep(0.2)
        assert not reply.done()  # still Claude's own dialog to answer
        deny = await r.shows("deny")
        r.press(deny)
        status, body = await asyncio.wait_for(reply, 5)
        assert status == 200 and body["hookSpecificOutput"]["decision"]["behavior"] == "deny"
    refused = next(m for m in caplog.messages if "answer refused" in m)
    assert "rm -rf build" in refused and "keyboard" in refused


async def test_a_keyboard_answer_lets_the_held_request_go(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        reply = r.post_hook(request())
        await r.shows("allow")
        # The user answered Claude's dialog: the tool ran, its PostToolUse comes.
        done = request(hook_event_name="PostToolUse", tool_response={"stdout": ""})
        del done["permission_suggestions"]
        status, answered = await asyncio.wait_for(r.post_hook(done), 5)
        assert (status, answered) == (200, {})
        assert await asyncio.wait_for(reply, 5) == (200, {})  # no decision
        await eventually(lambda: r.key_of("allow") is None)
        session = r.session()
        assert session is not None and session.ask is None


async def test_codex_is_answered_at_once_and_says_where(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        payload = {
            "session_id": "codex-1",
            "turn_id": "t1",
            "cwd": "/tmp/p",
            "hook_event_name": "PermissionRequest",
            "model": "gpt",
            "permission_mode": "default",
            "tool_name": "Bash",
            "tool_input": {"command": "make deploy"},
        }
        assert await asyncio.wait_for(r.post_hook(payload, "codex"), 5) == (200, {})
        ref = SessionRef("hooks", "codex-1")
        await eventually(lambda: (s := r.engine.status.find(ref)) is not None and s.ask is not None)
        session = r.engine.status.find(ref)
        assert session is not None and session.ask is not None
        assert session.ask.where == "in Codex's terminal" and not session.ask.answerable
        assert r.key_of("allow") is None


def test_a_held_request_is_let_go_before_the_agents_timeout() -> None:
    async def main() -> None:
        published: list[Any] = []
        source = HooksSource(
            "hooks", Options(transcripts=False, hold_for=570), published.append
        )
        runner = asyncio.create_task(source.run())
        loop = asyncio.get_running_loop()
        started = loop.time()
        reply = await source.handle("claude", request())
        assert reply == {}  # no decision: Claude's dialog stays
        assert loop.time() - started == pytest.approx(570)
        last = published[-1].snapshot.sessions[0]
        assert last.ask is None
        assert source.permissions.released == 1
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    run_virtual(main, real_budget=20.0)


def test_the_session_ending_lets_the_request_go() -> None:
    async def main() -> None:
        source = HooksSource("hooks", Options(transcripts=False), lambda s: None)
        runner = asyncio.create_task(source.run())
        held = asyncio.create_task(source.handle("claude", request()))
        await asyncio.sleep(1.0)
        assert source.permissions.holding == 1
        end = {k: REQUEST[k] for k in ("session_id", "transcript_path", "cwd")}
        await source.handle("claude", {**end, "hook_event_name": "SessionEnd", "reason": "other"})
        assert await held == {}
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    run_virtual(main, real_budget=20.0)


# -- as a user runs it: agentlight run, agentlight hook claude ------------------------------


@asynccontextmanager
async def agentlight_run(tmp: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, Path]]:
    run = tmp / "run"
    run.mkdir(mode=0o700)
    config = tmp / "agentlight.toml"
    config.write_text(
        '[bridge]\nlog_level = "info"\n\n[api]\nlisten = "127.0.0.1:0"\n\n'
        '[[sources]]\ntype = "hooks"\ntranscripts = false\n\n'
        '[[devices]]\ntype = "record"\npath = "record.jsonl"\n'
    )
    async with running_bridge(config, run) as proc:
        yield proc, run


async def _hook(run: Path, payload: dict[str, Any]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        *agentlight("hook", "claude"),
        env=environ(run),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(payload).encode())
    proc.stdin.close()
    return proc


def _waiting(tmp: Path) -> bool:
    record = tmp / "record.jsonl"
    lines = read_records(record)
    last = lines[-1] if lines else {"sessions": []}
    return any(s.get("ask") for s in last["sessions"])


async def test_the_hook_command_prints_the_decision_from_the_api(tmp_path: Path) -> None:
    async with agentlight_run(tmp_path) as (_, run):
        hook = await _hook(run, request())
        await eventually(lambda: _waiting(tmp_path), within=10)
        found = json.loads((run / "agentlight" / "api.json").read_text())
        body = {"target": "control", "action": "allow"}
        async with httpx.AsyncClient(base_url=found["url"], trust_env=False) as client:
            auth = {"Authorization": f"Bearer {found['token']}"}
            for _ in range(2):  # an Allow: pressed, then pressed again to confirm
                assert (await client.post("/v1/input", json=body, headers=auth)).status_code == 202
                await asyncio.sleep(0.3)
        out, err = await asyncio.wait_for(hook.communicate(), 10)
        assert (hook.returncode, err) == (0, b"")
        assert json.loads(out) == reply_file("allow")


async def test_sigterm_lets_held_requests_go_with_no_decision(tmp_path: Path) -> None:
    async with agentlight_run(tmp_path) as (bridge, run):
        hook = await _hook(run, request())
        found = json.loads((run / "agentlight" / "api.json").read_text())
        http = asyncio.create_task(_raw_post(found["url"], request(session_id="other")))
        await eventually(lambda: _waiting(tmp_path), within=10)
        await asyncio.sleep(0.3)  # the second request held too
        bridge.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(hook.communicate(), 10)
        assert (hook.returncode, out, err) == (0, b"", b"")  # no decision: nothing printed
        status, body = await asyncio.wait_for(http, 10)
        assert (status, body) == (200, {})
        assert await asyncio.wait_for(bridge.wait(), 10) == 0


async def _raw_post(url: str, payload: dict[str, Any]) -> tuple[int, Any]:
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:
        response = await client.post("/v1/hooks/claude", json=payload)
        return response.status_code, response.json()


async def test_a_reload_that_removes_the_source_lets_held_requests_go(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        reply = r.post_hook(request())
        await r.shows("allow")
        await r.engine.remove_source("hooks")  # what a reload does to a changed source
        assert await asyncio.wait_for(reply, 5) == (200, {})
