"""Measure agentlight's latency, cost, CLI start-up and scale against its budgets.

Prints a table (figure, value, budget, ✓/✗, by how much it is missed) and writes the
same figures as JSON. Exits 1 when a budget is missed. agentlight's own modules are
byte-compiled first, as an installed package has them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from benchmarks import (
    agp,
    answers,
    api,
    bus,
    cost,
    fastpath,
    hooks,
    hostile,
    latency,
    leds,
    mqtt,
    scale,
    service,
    signals,
    startup,
    streamdeck,
)
from benchmarks.procs import ROOT, IdleServer, compile_bytecode
from benchmarks.report import Figure, table, write_json

# What a part gives: its figures, and details for the JSON file.
Measured = tuple[list[Figure], dict[str, Any]]

PARTS = (
    "latency",
    "burst",
    "fastpath",
    "pocketpaw",
    "cost",
    "cli",
    "scale",
    "agp",
    "signals",
    "mqtt",
    "leds",
    "service",
    "streamdeck",
    "api",
    "hooks",
    "answers",
    "hostile",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke check, ~1 min)")
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "latest.json",
        metavar="PATH",
        help="write the figures here too (default benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        metavar="PARTS",
        help=f"comma-separated subset of {', '.join(PARTS)}",
    )
    parser.add_argument(
        "--pocketpaw-python",
        metavar="PATH",
        help="a Python with pocketpaw installed, for the real-server part "
        f"(default ${fastpath.PYTHON_ENV}; skipped without one)",
    )
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    if not sys.platform.startswith("linux"):
        parser.error(
            "the cost figures read /proc and the latency figures assume one "
            "CLOCK_MONOTONIC across processes: Linux only"
        )

    started = time.monotonic()
    compile_bytecode()  # agentlight as installed: every figure, start-up above all
    figures: list[Figure] = []
    details: dict[str, Any] = {}

    def measure(name: str, what: str, result: Callable[[], Measured]) -> None:
        if name not in parts:
            return
        elapsed = time.monotonic() - started
        print(f"[{elapsed:5.0f} s] {name} ({what}) …", file=sys.stderr, flush=True)
        found, details[name] = result()
        figures.extend(found)

    def measure_idle(name: str, what: str, result: Callable[[str], Measured]) -> None:
        """:func:`measure` with an idle simulated PocketPaw's URL, started only for ``name``."""
        if name in parts:
            with closing(IdleServer()) as server:
                measure(name, what, lambda: result(server.url))

    quick = args.quick
    # Latency first, alone, so nothing else on the machine competes with it.
    measure(
        "latency",
        "server and poller in their own processes, bridge in this one",
        lambda: asyncio.run(latency.run(quick)),
    )
    measure(
        "burst",
        "PocketPaw's event bus, a busy agent: 300 events/s for 10 s, a chunk each",
        lambda: asyncio.run(bus.run(quick)),
    )
    measure(
        "fastpath",
        "event bus vs status stream vs 2 s poller, simulator",
        lambda: asyncio.run(fastpath.run_sim(quick)),
    )
    measure(
        "pocketpaw",
        "the same against a real PocketPaw, when one is installed",
        lambda: asyncio.run(fastpath.run_real(quick, args.pocketpaw_python)),
    )
    if "cost" in parts or "cli" in parts:
        with closing(IdleServer()) as server:
            url = server.url
            measure("cost", "agentlight run, watched through /proc", lambda: cost.run(quick, url))
            measure("cli", "--help time, imports", lambda: startup.run(quick, url))
    measure("scale", "parse + map per frame", lambda: scale.run(quick))
    measure_idle(
        "leds",
        "GPIO LED and 60-LED strip pulsing, static strip: agentlight run via /proc",
        lambda url: leds.run(quick, url),
    )
    measure(
        "agp",
        "poll schedule on a virtual clock; 100 sessions, agentlight run via /proc",
        lambda: agp.run(quick),
    )
    measure(
        "signals",
        "SIGTERM → dark: idle, during start-up, under a flood of large frames, the largest config",
        lambda: signals.run(quick),
    )
    measure(
        "mqtt",
        "a real Mosquitto; publishing bridge in its own process, subscriber here",
        lambda: mqtt.run(quick),
    )
    measure(
        "streamdeck",
        "render + encode a key, key writes per change, RSS with a dummy deck",
        lambda: streamdeck.run(quick),
    )
    measure(
        "hooks",
        "coding agents' hooks: through the API, agentlight hook's start, watched transcripts",
        lambda: hooks.run(quick),
    )
    measure(
        "answers",
        "a dummy deck's press → the decision on the wire: held hook's reply, PocketPaw's chat",
        lambda: answers.run(quick),
    )
    measure(
        "hostile",
        "each source's worst legal input: SIGTERM → dark and peak RSS",
        lambda: hostile.run(quick),
    )
    measure(
        "service",
        "NOTIFY_SOCKET: start → READY, SIGHUP reloads, watchdog cost",
        lambda: service.run(quick),
    )
    measure_idle(
        "api",
        "local API: change → event with 10 clients, RSS and CPU on/off, start-up",
        lambda url: api.run(quick, url),
    )

    meta = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "parts": parts,
        "seconds": round(time.monotonic() - started, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "hardware_libraries_installed": sorted(
            name for name in startup.HARDWARE if importlib.util.find_spec(name) is not None
        ),
    }
    write_json(args.json, figures, meta, details)
    print(table(figures))
    missed = [f for f in figures if f.ok is False]
    print(
        f"\n{len(figures)} figures, {sum(f.ok is True for f in figures)} budgets met, "
        f"{len(missed)} missed; {meta['seconds']:.0f} s; JSON: {args.json}"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
