"""The CLI as people expect it: options anywhere, every value checked, status and show."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import _STATES, build_parser, parse_args
from bridge.pipeline.model import GlobalState
from bridge.simulator import SimAgent, SimServer
from bridge.sources.pocketpaw.urls import UrlError, base_url
from harness.procs import read_records
from tests.bridge_proc import run_agentlight
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parent.parent


def agentlight(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETPAW_")}
    return run_agentlight(*args, timeout=timeout, env=env)



# -- options before or after the command -------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "verbose", "quiet"),
    [
        (["-v", "demo"], 1, False),
        (["demo", "-v"], 1, False),
        (["-v", "demo", "-v"], 2, False),
        (["-vv", "run"], 2, False),
        (["-q", "check"], 0, True),
        (["check", "-q"], 0, True),
        (["status"], 0, False),
    ],
)
def test_global_options_before_or_after_the_command(
    argv: list[str], verbose: int, quiet: bool
) -> None:
    args = parse_args(build_parser(), argv)
    assert (args.verbose, args.quiet) == (verbose, quiet)


def test_verbose_before_the_command_runs() -> None:
    result = agentlight("-v", "check", "-c", "config.example.toml")
    assert result.returncode == 0, result.stderr


# -- every value checked, exit 2 naming the option ------------------------------------------


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["demo", "--speed", "0"], "--speed"),
        (["demo", "--speed", "-1"], "--speed"),
        (["demo", "--speed", "nan"], "--speed"),
        (["demo", "--speed", "inf"], "--speed"),
        (["demo", "--duration", "-3"], "--duration"),
        (["demo", "--duration", "0"], "--duration"),
        (["simulate", "--port", "70000"], "--port"),
        (["simulate", "--port", "-5"], "--port"),
        (["simulate", "--port", "http"], "--port"),
        (["simulate", "--speed", "0"], "--speed"),
        (["run", "--url", ""], "--url"),
        (["run", "--url", "htp://x"], "--url"),
        (["run", "--url", "http://x:99999"], "--url"),
        (["status", "--timeout", "0"], "--timeout"),
        (["status", "--format", "{nope}"], "--format"),
        (["status", "--format", "{state"], "--format"),
        (["show", "sleeping"], "STATE"),
    ],
)
def test_bad_values_exit_2_naming_the_option(argv: list[str], option: str) -> None:
    result = agentlight(*argv)
    assert result.returncode == 2, result.stderr
    assert f"argument {option}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_url_is_never_blamed_on_the_built_in_config() -> None:
    result = agentlight("run", "--url", "htp://user:PASSWORD@x")
    assert result.returncode == 2
    assert "<built-in config>" not in result.stderr
    assert "PASSWORD" not in result.stderr
    assert "argument --url" in result.stderr


def test_url_with_config_is_a_usage_error() -> None:
    result = agentlight("run", "-c", "config.example.toml", "--url", "http://127.0.0.1:1")
    assert result.returncode == 2
    assert "agentlight run: error: --url applies only without -c" in result.stderr


@pytest.mark.parametrize(
    ("typed", "base"),
    [
        ("http://h:8888/api/v1/agent/status", "http://h:8888"),
        ("http://h:8888/api/v1/agent/status/stream/", "http://h:8888"),
        ("laptop.local:8888", "http://laptop.local:8888"),
        ("https://h/prefix/api/v1/agent/status", "https://h/prefix"),
        ("http://127.0.0.1:8888/", "http://127.0.0.1:8888"),
    ],
)
def test_a_pasted_endpoint_url_is_understood(typed: str, base: str) -> None:
    assert base_url(typed, note=False) == base


@pytest.mark.parametrize("url", ["http://user:pw@h", "http://h?key=k", "ftp://h", "http://"])
def test_urls_that_cannot_be_used_are_explained(url: str) -> None:
    with pytest.raises(UrlError):
        base_url(url, note=False)


def test_check_with_a_pasted_endpoint_url_uses_the_base() -> None:
    result = agentlight("check", "--url", "http://127.0.0.1:8123/api/v1/agent/status")
    assert result.returncode == 0, result.stderr
    assert "url=http://127.0.0.1:8123" in result.stdout
    assert "agent/status" not in result.stdout
    assert "--url: using http://127.0.0.1:8123" in result.stderr


def test_each_command_says_what_it_reads_from_the_environment() -> None:
    for command in ("run", "check", "status"):
        result = agentlight(command, "--help")
        assert result.returncode == 0
        assert "POCKETPAW_STATUS_API_KEY" in result.stdout
        assert "POCKETPAW_TOKEN" in result.stdout


# -- status ---------------------------------------------------------------------------------


async def _run(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETPAW_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_status_json_is_the_versioned_form() -> None:
    agent = SimAgent()
    agent.agent_start("websocket:abc", "Fix the build")
    agent.tool_start("websocket:abc", "bash")
    async with SimServer(agent, debounce=0.01) as server:
        code, out, err = await _run("status", "--json", "--url", server.url)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["version"] == 1
    assert doc["global"] == "active"
    (session,) = doc["sessions"]
    assert (session["key"], session["state"], session["tool"], session["title"]) == (
        "websocket:abc", "tool_running", "bash", "Fix the build",
    )  # fmt: skip
    assert [s["connection"] for s in doc["sources"]] == ["connected"]


async def test_status_format_is_one_line_in_plain_words() -> None:
    agent = SimAgent()
    agent.agent_start("websocket:abc", "Fix the build")
    agent.ask_user_question("websocket:abc")
    async with SimServer(agent, debounce=0.01) as server:
        code, out, err = await _run(
            "status", "--url", server.url, "--format", "{label} | {title} | {sessions}"
        )
    assert code == 0, err
    assert out == "waiting for you | Fix the build | 1\n"


async def test_status_for_people_names_sessions_in_words() -> None:
    agent = SimAgent()
    agent.agent_start("telegram:chat-42")
    agent.error("telegram:chat-42", "Rate limit exceeded")
    async with SimServer(agent, debounce=0.01) as server:
        code, out, err = await _run("status", "--url", server.url)
    assert code == 0, err
    assert "error: Rate limit exceeded" in out
    assert "telegram chat-42" in out


async def test_status_without_an_answer_exits_1_and_says_what_to_try() -> None:
    code, out, err = await _run("status", "--url", "http://127.0.0.1:9", "--timeout", "3")
    assert code == 1
    assert "cannot reach the agent" in out
    assert "is PocketPaw running (`pocketpaw serve`)?" in err
    # The cause once, with its fix (it was also on stdout, as "source pocketpaw: …").
    assert (out + err).count("cannot connect") == 1
    assert "Traceback" not in err


async def test_status_watch_prints_every_change_until_stopped() -> None:
    agent = SimAgent()
    async with SimServer(agent, debounce=0.01) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETPAW_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", "status", "--watch", "--url", server.url,
            "--format", "{state} {sessions}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)) == b"idle 0\n"
        agent.agent_start("websocket:a")
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)) == b"active 1\n"
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()


# -- show -----------------------------------------------------------------------------------


def _record_config(tmp_path: Path) -> tuple[Path, Path]:
    record = tmp_path / "r.jsonl"
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[[sources]]\ntype = "pocketpaw"\n'
        '[[devices]]\ntype = "record"\npath = "r.jsonl"\n'
        '[theme.tool.bash]\ncolor = "#ff8000"\n'
    )
    return cfg, record


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["waiting_for_user"], ("active", "waiting_for_user", None)),
        (["tool_running", "--tool", "bash"], ("active", "tool_running", "bash")),
        (["error"], ("degraded", "error", None)),
        (["auth_failed"], ("auth_failed", None, None)),
        (["idle"], ("idle", None, None)),
    ],
)
def test_show_puts_one_look_on_the_devices(
    tmp_path: Path, argv: list[str], expect: tuple[str, str | None, str | None]
) -> None:
    cfg, record = _record_config(tmp_path)
    result = agentlight("show", *argv, "-c", str(cfg), "--duration", "0.5")
    assert result.returncode == 0, result.stderr
    lines = read_records(record, finished=True)
    shown = lines[0]
    state, session_state, tool = expect
    assert shown["global"] == state
    if session_state is None:
        assert shown["sessions"] == []
    else:
        assert [(s["state"], s["tool"]) for s in shown["sessions"]] == [(session_state, tool)]
    if tool == "bash":
        assert shown["look"]["color"] == "#ff8000"  # the config's theme
    assert lines[-1]["end"] is True


@pytest.mark.parametrize("state", _STATES)
async def test_every_show_state_holds_its_look_from_the_first_frame_until_stopped(
    tmp_path: Path, state: str
) -> None:
    """``off`` too: dark from the first frame (never the Connecting look), held until stop."""
    from bridge.commands.show import dark_config, show
    from bridge.infra.config import load_config

    cfg, record = _record_config(tmp_path)
    config = load_config(cfg)
    args = argparse.Namespace(state=state, tool=None, title=None, duration=None)
    stop = asyncio.Event()
    task = asyncio.create_task(show(config, args, stop))
    await eventually(lambda: bool(read_records(record)), 10)
    await asyncio.sleep(0.2)  # it must still be running: only stop ends it
    assert not task.done()
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0
    lines = read_records(record, finished=True)
    theme = (dark_config(config) if state == "off" else config).theme
    expected = "idle" if state == "off" else state
    for line in lines[:-1]:  # every frame before the exit line
        shown = line["global"] if not line["sessions"] else line["sessions"][0]["state"]
        assert shown == expected
        assert line["global"] != "connecting" or state == "connecting"
    if state == "off":
        assert {line["look"]["effect"] for line in lines} == {"off"}
        assert theme.global_looks[GlobalState.IDLE].label == "off"
    assert lines[-1]["end"] is True


def test_show_tool_without_tool_running_is_a_usage_error(tmp_path: Path) -> None:
    cfg, _ = _record_config(tmp_path)
    result = agentlight("show", "thinking", "--tool", "bash", "-c", str(cfg))
    assert result.returncode == 2
    assert "--tool goes with tool_running" in result.stderr


# -- run --------------------------------------------------------------------------------------


def _shows(path: Path, state: str) -> bool:
    return any(r["global"] == state for r in read_records(path))


async def test_run_record_and_quiet_on_a_terminal(tmp_path: Path) -> None:
    """--record works on run; on a terminal only warnings are logged, piped info too."""
    agent = SimAgent()
    async with SimServer(agent, debounce=0.01) as server:
        logs: dict[bool, str] = {}
        for tty in (True, False):
            record = tmp_path / f"run-{tty}.jsonl"
            if tty:
                leader, follower = pty.openpty()
                stderr: int = follower
            else:
                stderr = asyncio.subprocess.PIPE
            env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETPAW_")}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bridge", "run", "--url", server.url,
                "--record", str(record),
                stdout=asyncio.subprocess.DEVNULL, stderr=stderr, cwd=ROOT, env=env,
            )  # fmt: skip
            await eventually(lambda r=record: _shows(r, "idle"), 15)  # type: ignore[misc]
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 10)
            assert proc.returncode == 0
            if tty:
                os.close(follower)
                chunks = []
                while True:
                    try:
                        chunk = os.read(leader, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    chunks.append(chunk)
                os.close(leader)
                logs[tty] = b"".join(chunks).decode()
            else:
                logs[tty] = err.decode()
    assert "INFO" not in logs[True]
    assert "INFO" in logs[False]


async def test_run_says_what_to_try_when_the_server_cannot_be_reached(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETPAW_")}
    record = tmp_path / "r.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", "run", "--url", "http://127.0.0.1:9",
        "--record", str(record),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
    )  # fmt: skip
    await eventually(lambda: any(r["global"] == "disconnected" for r in read_records(record)), 15)
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    text = err.decode()
    assert "is PocketPaw running (`pocketpaw serve`)?" in text
    assert "agentlight run --url http://HOST:8888" in text
    assert text.count("is PocketPaw running") == 1
    # One warning for the one failure: what happened and what to do, in one line.
    (warning,) = [line for line in text.splitlines() if " WARNING " in line]
    assert "cannot reach http://127.0.0.1:9: cannot connect" in warning
    assert "is PocketPaw running" in warning
