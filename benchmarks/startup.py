"""What the CLI costs before it does anything: ``--help`` wall time and imports.

Imports are the modules the command added to ``sys.modules`` (beyond the interpreter's
own start-up), for ``--help``, for ``check`` of the example config, and for ``run`` of a
config with only record and terminal devices (stopped once it has shown the agent's
state). HTTP libraries must not load for ``--help`` or
``check``; hardware and imaging libraries must not load for any of these.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.report import Figure

HTTP = frozenset({"httpx", "httpcore", "h11", "anyio", "httpx_sse", "sniffio", "h2"})
# The local API's server library and its own dependencies: loaded only with [api].
SERVER = frozenset(
    {"aiohttp", "multidict", "yarl", "aiohappyeyeballs", "aiosignal", "frozenlist", "propcache"}
)
HARDWARE = frozenset(
    {
        "gpiozero",
        "RPi",
        "lgpio",
        "pigpio",
        "serial",
        "usb",
        "hid",
        "busylight",
        "busylight_core",
        "StreamDeck",
        "PIL",
    }
)
# Reported but allowed: color-name parsing is part of loading a theme.
NOTABLE = frozenset({"webcolors"})


def help_seconds(runs: int) -> list[float]:
    command = [*procs.agentlight_command(), "--help"]
    subprocess.run(command, capture_output=True, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


# Runs the real CLI entry point and, at exit, writes which modules it loaded beyond
# those the interpreter had at start. sys.modules rather than -X importtime: importtime
# also lists imports that failed (``nt``, ``brotli``, ``h2`` when not installed).
_PROBE = """\
import atexit, sys
_base = set(sys.modules)

def _dump():
    loaded = sorted(set(sys.modules) - _base)
    import json, os
    with open(os.environ["AGENTLIGHT_BENCH_MODULES"], "w") as out:
        json.dump(loaded, out)

atexit.register(_dump)
from bridge.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _tripwires(tmp: Path) -> Path:
    """Empty stand-ins for every hardware and imaging package, first on the path: the
    hardware extras are not installed here, and an import that fails leaves no trace in
    sys.modules, so without these a stray import could not be caught."""
    root = tmp / "tripwires"
    for name in HARDWARE:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "__init__.py").write_text("")
    return root


def _probe(argv: list[str], out: Path, **popen: Any) -> subprocess.Popen[bytes]:
    tripwires = _tripwires(out.parent)
    path = os.pathsep.join(p for p in (str(tripwires), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "AGENTLIGHT_BENCH_MODULES": str(out), "PYTHONPATH": path}
    return subprocess.Popen([sys.executable, "-c", _PROBE, *argv], cwd=procs.ROOT, env=env, **popen)


def _imports_of(argv: list[str], tmp: Path) -> list[str]:
    out = tmp / "modules.json"
    proc = _probe(argv, out, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.wait(30)
    loaded: list[str] = json.loads(out.read_text())
    return loaded


def _imports_of_run(url: str, tmp: Path) -> list[str]:
    record = tmp / "imports.jsonl"
    config = procs.write_config(
        tmp / "imports.toml",
        url,
        procs.record_device(record) + '\n[[devices]]\ntype = "terminal"\n',
    )
    out = tmp / "run-modules.json"
    log = tmp / "imports.log"
    with log.open("wb") as err:
        proc = _probe(
            ["run", "-c", str(config)],
            out,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            seen = procs.wait_for_record(record, lambda r: r["global"] == "idle", 15, proc)
        finally:
            procs.stop(proc)  # SIGTERM: a clean exit, so the probe's atexit runs
    if seen is None:
        raise RuntimeError(f"`run` showed nothing: {log.read_text()[-2000:]}")
    loaded: list[str] = json.loads(out.read_text())
    return loaded


def _top(names: list[str]) -> list[str]:
    return sorted({n.split(".")[0] for n in names})


def run(quick: bool, url: str) -> tuple[list[Figure], dict[str, Any]]:
    times = help_seconds(5 if quick else 11)
    figures = [
        Figure(
            "cli.help.wall",
            "`agentlight --help` wall time",
            statistics.median(times) * 1000,
            "ms",
            100.0,
            note=f"median of {len(times)}, min {min(times) * 1000:.0f} ms",
        )
    ]
    details: dict[str, Any] = {"help_ms": [t * 1000 for t in times], "imports": {}}
    with tempfile.TemporaryDirectory(prefix="agentlight-bench-") as name:
        tmp = Path(name)
        cases = [
            ("help", "--help", _imports_of(["--help"], tmp), HTTP | HARDWARE | SERVER),
            (
                "check",
                "check -c config.example.toml",
                _imports_of(["check", "-c", "config.example.toml"], tmp),
                HTTP | HARDWARE | SERVER,
            ),
            ("run", "run (record + terminal)", _imports_of_run(url, tmp), HARDWARE | SERVER),
        ]
    for key, what, names, banned in cases:
        top = _top(names)
        bad = sorted(set(top) & banned)
        notable = sorted(set(top) & NOTABLE)
        details["imports"][key] = {"modules": len(names), "top_level": top, "banned": bad}
        note = f"{len(names)} modules loaded; " + (f"imports {', '.join(bad)}" if bad else "none")
        if notable:
            note += f"; also {', '.join(notable)}"
        figures.append(
            Figure(
                f"cli.imports.{key}",
                f"`{what}`: banned imports",
                len(bad),
                "",
                0.0,
                note=note,
            )
        )
    stops = [stop_seconds(url) for _ in range(3 if quick else 7)]
    figures.append(
        Figure(
            "cli.stop.sigterm",
            "SIGTERM → exit, devices dark (worst)",
            max(stops) * 1000,
            "ms",
            1000.0,
            note=f"a run in reconnect back-off; median {statistics.median(stops) * 1000:.0f} ms",
        )
    )
    details["stop_ms"] = [t * 1000 for t in stops]
    return figures, details


def stop_seconds(url: str) -> float:
    """Seconds from SIGTERM to exit of a real ``agentlight run`` waiting out a long back-off.

    The tests check that it stops cleanly and dark; how fast is measured here.
    """
    import signal
    import socket

    with socket.socket() as probe:  # a port nobody listens on: the source backs off
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with tempfile.TemporaryDirectory(prefix="agentlight-bench-") as name:
        tmp = Path(name)
        record = tmp / "record.jsonl"
        config = procs.write_config(
            tmp / "cfg.toml", dead, procs.record_device(record)
        ).read_text("utf-8")
        config = config.replace(
            f'url = "{dead}"', f'url = "{dead}"\nreconnect_min = 30.0\nreconnect_max = 60.0'
        )
        (tmp / "cfg.toml").write_text(config, "utf-8")
        proc = subprocess.Popen(
            [*procs.agentlight_command(), "run", "-c", str(tmp / "cfg.toml")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            procs.wait_for_record(record, lambda r: r["global"] == "disconnected", 15, proc)
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            return time.monotonic() - sent
        finally:
            procs.stop(proc)
