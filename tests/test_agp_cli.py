"""``demo --agp``, ``simulate --agp`` and ``run`` with an AgP source, as real processes."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge.simulator.agp import STATUSES, SimAgp
from bridge.sources.agp.parse import parse_status, to_session
from bridge.text.statusline import session_words
from harness.procs import read_records
from tests.agp_helpers import KEY, agp_server
from tests.conftest import eventually
from tests.test_cli import ROOT, agentlight

# The scenario behind ``simulate --agp`` goes through every status the simulator knows.
EVERY_SHOWN = set(STATUSES)


def raw_states(lines: list[dict[str, Any]]) -> set[str]:
    seen: set[str] = set()
    for line in lines:
        for session in line["sessions"]:
            seen.add(session["raw_state"])
    return seen


def test_demo_agp_shows_agp_sessions(tmp_path: Path) -> None:
    record = tmp_path / "demo.jsonl"
    result = agentlight(
        "demo", "--agp", "--speed", "20", "--duration", "3", "--record", str(record)
    )
    assert result.returncode == 0, result.stderr
    lines = read_records(record, finished=True)
    assert {"completed", "failed", "paused"} <= raw_states(lines)
    sources = {s["source"] for line in lines for s in line["sessions"]}
    assert sources == {"agp"}
    parents = {s["key"]: s["parent"] for line in lines for s in line["sessions"]}
    assert parents["research-web-1"] == "research-1"  # a subagent, linked


async def test_run_against_simulate_agp_sees_every_status(tmp_path: Path) -> None:
    ids = tmp_path / "ids"
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge",
        "simulate",
        "--agp",
        "--port",
        "0",
        "--speed",
        "6",
        "--api-key",
        "sim-key-123",
        "--sessions-dir",
        str(ids),
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    bridge = None
    try:
        assert sim.stderr is not None
        line = (await asyncio.wait_for(sim.stderr.readline(), 10)).decode()
        match = re.search(r"on (http://127\.0\.0\.1:\d+/api/v2)", line)
        assert match, line
        record = tmp_path / "run.jsonl"
        config = tmp_path / "agp.toml"
        config.write_text(
            f"""
[[sources]]
type = "agp"
url = "{match.group(1)}"
sessions_from = "ids"
interval = 0.5
allow_any_interval = true

[[devices]]
type = "terminal"

[[devices]]
type = "record"
path = "run.jsonl"
"""
        )
        bridge = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridge",
            "run",
            "-c",
            str(config),
            cwd=ROOT,
            env={"H_API_KEY": "sim-key-123", "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        await eventually(lambda: raw_states(read_records(record)) >= EVERY_SHOWN, within=30)
        bridge.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(bridge.communicate(), 10)
        assert bridge.returncode == 0, err.decode()
        text = out.decode()
        assert "agp research-1" in text and "paused" in text.lower()
        assert "sim-key-123" not in err.decode() + text
        # Every line is valid JSON with the session's own source.
        lines = read_records(record, finished=True)
        assert all(s["source"] == "agp" for line in lines for s in line["sessions"])
    finally:
        for proc in (bridge, sim):
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 10)


def test_check_names_a_bad_agp_option(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[sources]]\ntype = "agp"\ninterval = 1\n[[devices]]\ntype = "terminal"\n')
    result = agentlight("check", "-c", str(config))
    assert result.returncode == 2
    assert "interval" in result.stderr and "2 to 5" in result.stderr


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"status": "pending"}, "queued"),
        ({"status": "running", "steps": 0}, "running"),
        ({"status": "running", "steps": 12}, "running, step 12"),
        ({"status": "paused", "steps": 3}, "paused"),
        ({"status": "idle"}, "waiting for you"),
        ({"status": "completed"}, "done"),
        ({"status": "failed"}, "failed"),
        ({"status": "failed", "error": "Browser crashed"}, "failed: Browser crashed"),
        ({"status": "timed_out"}, "timed out"),
        ({"status": "interrupted"}, "interrupted"),
    ],
)
def test_status_words_say_what_an_agp_session_is_doing(body: dict[str, Any], words: str) -> None:
    session = to_session("s-1", parse_status(body), source="agp", since=0.0)
    assert session_words(session) == words


async def test_status_command_says_running_for_a_running_agp_session(tmp_path: Path) -> None:
    agp = SimAgp()
    agp.create("research-1", "running")
    agp.step("research-1", 7)
    agp.create("review-2", "timed_out")
    async with agp_server(agp) as server:
        config = tmp_path / "agp.toml"
        config.write_text(
            f"""
[[sources]]
type = "agp"
url = "{server.url}"
sessions = ["research-1", "review-2"]

[[devices]]
type = "terminal"
"""
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", "status", "-c", str(config),
            cwd=ROOT, env={"H_API_KEY": KEY, "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "agp research-1  running, step 7" in text
    assert "agp review-2  timed out" in text
    assert "thinking" not in text
