"""The CLI as a user runs it: real processes, a real local server, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.simulator import SimAgent, SimServer
from harness.procs import read_records
from tests.bridge_proc import run_agentlight
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parent.parent


def agentlight(*args: str) -> subprocess.CompletedProcess[str]:
    return run_agentlight(*args)



def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "check", "demo", "simulate"):
        assert command in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_python_dash_m_bridge_and_check_example() -> None:
    result = agentlight("check", "-c", "config.example.toml")
    assert result.returncode == 0, result.stderr
    assert "config.example.toml: OK" in result.stdout
    assert "terminal (terminal) show=session" in result.stdout


def test_check_hides_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[[sources]]\ntype = "pocketpaw"\napi_key = "super-secret-key"\n'
        '[[devices]]\ntype = "mock"\n'
    )
    result = agentlight("check", "-c", str(cfg))
    assert result.returncode == 0, result.stderr
    assert "super-secret-key" not in result.stdout + result.stderr
    assert "api_key=***" in result.stdout


def test_bad_config_exits_nonzero_naming_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        '[[sources]]\ntype = "pocketpaw"\n[[devices]]\ntype = "terminal"\nwidth = "wide"\n'
    )
    for command in ("check", "run"):
        result = agentlight(command, "-c", str(cfg))
        assert result.returncode == 2
        expected = f"{cfg}: devices[0].width: got 'wide' (a string), expected a whole number"
        assert expected in result.stderr
        assert "Traceback" not in result.stderr


async def _wait_for_record(path: Path, predicate, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    await eventually(lambda: any(predicate(r) for r in read_records(path)), within=within)


async def _spawn_run(cfg: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", "run", "-c", str(cfg),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip


async def _finish(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 5)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_run_shows_states_survives_restart_and_exits_cleanly(tmp_path: Path) -> None:
    agent = SimAgent()
    async with SimServer(agent, debounce=0.01) as server:
        record = tmp_path / "record.jsonl"
        cfg = tmp_path / "agentlight.toml"
        cfg.write_text(
            f'[[sources]]\ntype = "pocketpaw"\nurl = "{server.url}"\n'
            "reconnect_min = 0.05\nreconnect_max = 0.2\n"
            f'[[devices]]\ntype = "record"\npath = "{record}"\n'
            '[[devices]]\ntype = "terminal"\nstream = "stderr"\n'
        )
        proc = await _spawn_run(cfg)
        try:
            await _wait_for_record(record, lambda r: r["global"] == "idle")
            agent.agent_start("websocket:abc")
            agent.tool_start("websocket:abc", "bash")
            await _wait_for_record(
                record,
                lambda r: (
                    [(s["key"], s["state"], s["tool"]) for s in r["sessions"]]
                    == [("websocket:abc", "tool_running", "bash")]
                ),
            )
            await server.stop()
            await _wait_for_record(record, lambda r: r["global"] == "disconnected")
            agent.ask_user_question("websocket:abc")
            await server.start()
            await _wait_for_record(
                record, lambda r: any(s["state"] == "waiting_for_user" for s in r["sessions"])
            )
        finally:
            code, err = await _finish(proc)
    assert code == 0, err
    assert "Traceback" not in err
    lines = read_records(record, finished=True)
    shown = [r["global"] for r in lines]
    # "connecting" shows only if the record file opens before the simulator answers.
    assert shown[: shown.index("idle") + 1] in (["connecting", "idle"], ["idle"])
    assert all(set(r) >= {"t", "device", "global", "look", "sessions"} for r in lines)
    assert all(set(r["look"]) >= {"color", "effect"} for r in lines)


async def test_sigint_during_backoff_stops_quickly(tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    cfg = tmp_path / "c.toml"
    # Port 9 (discard) on loopback: nothing listens, so the source sits in back-off for
    # half an hour at least. Only a stop that cuts the back-off short ends the process
    # within the test's time: no wall-clock bound decides the result.
    cfg.write_text(
        '[[sources]]\ntype = "pocketpaw"\nurl = "http://127.0.0.1:9"\n'
        'reconnect_min = 3600\nreconnect_max = 3600\nevents = "off"\n'
        f'[[devices]]\ntype = "record"\npath = "{record}"\n'
    )
    proc = await _spawn_run(cfg)
    await _wait_for_record(record, lambda r: r["global"] == "disconnected")
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()


def test_demo_runs_without_server_or_hardware(tmp_path: Path) -> None:
    record = tmp_path / "demo.jsonl"
    result = agentlight("demo", "--speed", "20", "--duration", "3", "--record", str(record))
    assert result.returncode == 0, result.stderr
    states = {r["global"] for r in read_records(record, finished=True)}
    # "connecting" may never be shown: the built-in server can answer first.
    assert {"idle", "active"} <= states
    assert "Idle" in result.stdout  # the terminal indicator


def test_simulate_refuses_a_busy_port() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = agentlight("simulate", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot serve on port {port}" in result.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_help_does_not_import_http_or_hardware_libraries() -> None:
    code = (
        "import sys\n"
        "from bridge.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('httpx', 'httpcore', 'h11', 'anyio', 'gpiozero', 'serial', 'PIL',"
        " 'StreamDeck', 'webcolors', 'aiohttp', 'multidict', 'yarl') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=30
    )
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:"
