"""A stop during start-up ends cleanly at any moment, from the program's first instruction.

Sleeping a few milliseconds before the signal hits a different moment on every
machine; instead, an audit hook in the launched program sends the signal to its
own process at the N-th module import of start-up (a Ctrl-C lands wherever the
interpreter is: most of start-up is imports). N walks every import of the
first stretch (where ``import argparse`` once let a ``KeyboardInterrupt``
through) and a sample of the rest, up to the bridge running.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.procs import read_records
from tests.bridge_proc import unanswered_config

ROOT = Path(__file__).resolve().parent.parent

# The console script's own lines, with the hook first. Imports are counted from
# the moment ``bridge.entry`` is loaded: its main() is agentlight's first
# instruction (before that only the interpreter and the script's two lines run,
# which no program can guard).
LAUNCHER = """\
import os, signal, sys
stop_at = int(sys.argv[1]); sig = int(sys.argv[2]); seen = [0]
def hook(event, args):
    if event == "import" and hasattr(sys.modules.get("bridge.entry"), "main"):
        seen[0] += 1
        if seen[0] == stop_at:
            os.kill(os.getpid(), sig)
        if stop_at == 0:
            sys.stderr.write("IMPORT\\n")
sys.addaudithook(hook)
from bridge.entry import main
sys.exit(main(sys.argv[3:]))
"""


def _launch(stop_at: int, sig: int, cfg: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(stop_at), str(sig), "run", "-c", str(cfg)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip


def _count_imports(cfg: Path, record: Path) -> int:
    """How many imports a run makes from its first instruction until it shows a look."""
    proc = _launch(0, 0, cfg)
    deadline = time.monotonic() + 20
    while not read_records(record) and time.monotonic() < deadline:
        time.sleep(0.02)  # another process's progress: nothing to wait on but the file
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    record.unlink()
    return err.count(b"IMPORT\n")


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX only")
def test_a_stop_at_any_import_of_start_up_exits_0_without_a_traceback(tmp_path: Path) -> None:
    cfg, record = unanswered_config(tmp_path)
    total = _count_imports(cfg, record)
    assert total > 100  # argparse, asyncio, the engine, the config, the source...
    # Every one of the first 30 (argparse and the signal handlers), then every 20th.
    moments = [*range(1, 31), *range(31, total, 20)]
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    failures: list[tuple[int, str, object, object]] = []
    for i, stop_at in enumerate(moments):
        sig = signals[i % len(signals)]
        proc = _launch(stop_at, sig, cfg)
        _, err = proc.communicate(timeout=20)
        text = err.decode()
        if proc.returncode != 0 or "Traceback" in text or "KeyboardInterrupt" in text:
            failures.append((stop_at, sig.name, proc.returncode, text[-500:]))
        if record.exists():
            lines = read_records(record, finished=True)
            if lines and lines[-1].get("end") is not True:
                failures.append((stop_at, sig.name, "left lit", lines[-1]))
            record.unlink()
    assert failures == []
