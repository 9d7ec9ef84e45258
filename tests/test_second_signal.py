"""A second Ctrl-C: one behaviour in every command that runs until stopped.

The first stops the command cleanly; a second, while devices are still being left
(here a device whose exit look hangs), exits at once: status 1 and one line saying
so. Never death by the signal (130) or a traceback, and a signal that comes
after the command finished is harmless.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A device whose every show hangs and an exit look: leaving it takes shutdown_timeout.
SLOW_EXIT = """\
[bridge]
shutdown_timeout = 5
on_exit = { color = "#00ff40" }
[[sources]]
type = "pocketpaw"
url = "http://127.0.0.1:9"
[[devices]]
type = "mock"
hang_show = true
write_timeout = 10
"""

COMMANDS = {
    "run": ["run", "-c", "{cfg}"],
    "show": ["show", "idle", "-c", "{cfg}"],
    "demo": ["demo", "-c", "{cfg}"],
    "status --watch": ["status", "--watch", "--url", "http://127.0.0.1:9"],
    "simulate": ["simulate", "--port", "0"],
}


def _start(argv: list[str], cfg: Path) -> subprocess.Popen[bytes]:
    args = [a.format(cfg=cfg) for a in argv]
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip


def _running(proc: subprocess.Popen[bytes]) -> None:
    """Until the command runs (its handlers are in and it is past start-up)."""
    time.sleep(1.5)  # another process's start: there is nothing of it to wait on here
    assert proc.poll() is None


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_second_ctrl_c_exits_at_once_with_one_line(name: str, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(SLOW_EXIT)
    proc = _start(COMMANDS[name], cfg)
    _running(proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    text = err.decode()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    if name in ("run", "show", "demo"):  # still leaving the slow device: the second counts
        assert proc.returncode == 1, text
        assert text.rstrip().endswith("agentlight: second signal: exiting now")
    else:  # nothing slow to leave: it was done before the second came
        assert proc.returncode == 0, text
