"""``agentlight hook``'s parts: the agent's process, what it forwards, where it looks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.api.discovery import search_paths
from bridge.commands.hook import RESERVED, _payload
from bridge.infra.local_api import discovery_paths

ROOT = Path(__file__).resolve().parent.parent


def test_the_agent_is_found_past_the_shell_a_hook_runs_in() -> None:
    """Claude Code runs a command hook as ``sh -c <command>``: the agent is sh's parent."""
    code = "from bridge.commands.hook import agent_pid; print(agent_pid())"
    command = f"{sys.executable} -c {json.dumps(code)}; true"  # `; true`: sh does not exec
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True)
    assert int(out.stdout) == os.getpid()
    direct = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert int(direct.stdout) == os.getpid()


def test_what_is_forwarded_leaves_out_big_fields_no_adapter_reads() -> None:
    payload = {
        "session_id": "s",
        "hook_event_name": "PostToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "cat big.log"},
        "tool_response": {"stdout": "x" * 1_000_000},
        "last_assistant_message": "API Error: 500",
    }
    out = _payload(json.dumps(payload).encode())
    assert out is not None
    assert "tool_response" not in out
    assert out["last_assistant_message"] == "API Error: 500"  # short: kept
    assert out["tool_input"] == {"command": "cat big.log"}
    assert _payload(b"not json") is None and _payload(b"[1]") is None
    assert RESERVED == "_agentlight"


@pytest.mark.parametrize(
    "env",
    [
        {"XDG_RUNTIME_DIR": "/run/user/1000"},
        {"RUNTIME_DIRECTORY": "/run/agentlight:/x"},
        {"TMPDIR": "/var/tmp"},
        {},
    ],
)
def test_hook_looks_where_the_api_writes(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() caches $TMPDIR
    for key in ("XDG_RUNTIME_DIR", "RUNTIME_DIRECTORY", "TMPDIR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert discovery_paths() == [str(p) for p in search_paths()]
