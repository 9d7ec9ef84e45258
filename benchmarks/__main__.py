"""Measure agentlight's latency, cost, CLI start-up and scale against its budgets.

Prints a table (figure, value, budget, ✓/✗, by how much it is missed) and writes the
same figures as JSON. Exits 1 when a budget is missed.
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
from pathlib import Path
from typing import Any

from benchmarks import (
    agp,
    cost,
    fastpath,
    latency,
    leds,
    mqtt,
    scale,
    service,
    signals,
    startup,
    streamdeck,
)
from benchmarks.procs import ROOT, IdleServer
from benchmarks.report import Figure, table, write_json

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
    figures: list[Figure] = []
    details: dict[str, Any] = {}

    def step(name: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {name} …", file=sys.stderr, flush=True)

    # Latency first, alone, so nothing else on the machine competes with it.
    if "latency" in parts:
        step("latency (server and poller in their own processes, bridge in this one)")
        found, details["latency"] = asyncio.run(latency.run(args.quick))
        figures += found
    if "burst" in parts and "latency" not in parts:  # the latency part measures it too
        step("burst (1,000 frames back to back)")
        found, details["burst"] = asyncio.run(latency.run_burst(args.quick))
        figures += found
    if "fastpath" in parts:
        step("fastpath (event bus vs status stream vs 2 s poller, simulator)")
        found, details["fastpath"] = asyncio.run(fastpath.run_sim(args.quick))
        figures += found
    if "pocketpaw" in parts:
        step("pocketpaw (the same against a real PocketPaw, when one is installed)")
        found, details["pocketpaw"] = asyncio.run(
            fastpath.run_real(args.quick, args.pocketpaw_python)
        )
        figures += found
    if "cost" in parts or "cli" in parts:
        server = IdleServer()
        try:
            if "cost" in parts:
                step("cost (agentlight run, watched through /proc)")
                found, details["cost"] = cost.run(args.quick, server.url)
                figures += found
            if "cli" in parts:
                step("cli (--help time, imports)")
                found, details["cli"] = startup.run(args.quick, server.url)
                figures += found
        finally:
            server.close()
    if "scale" in parts:
        step("scale (parse + map per frame)")
        found, details["scale"] = scale.run(args.quick)
        figures += found
    if "leds" in parts:
        step("leds (GPIO LED and 60-LED strip pulsing, static strip: agentlight run via /proc)")
        server = IdleServer()
        try:
            found, details["leds"] = leds.run(args.quick, server.url)
        finally:
            server.close()
        figures += found
    if "agp" in parts:
        step("agp (poll schedule on a virtual clock; 100 sessions, agentlight run via /proc)")
        found, details["agp"] = agp.run(args.quick)
        figures += found
    if "signals" in parts:
        step("signals (SIGTERM → dark: idle, during start-up, under a flood of large frames)")
        found, details["signals"] = signals.run(args.quick)
        figures += found
    if "mqtt" in parts:
        step("mqtt (a real Mosquitto; publishing bridge in its own process, subscriber here)")
        found, details["mqtt"] = mqtt.run(args.quick)
        figures += found
    if "streamdeck" in parts:
        step("streamdeck (render + encode a key, key writes per change, RSS with a dummy deck)")
        found, details["streamdeck"] = streamdeck.run(args.quick)
        figures += found

    if "service" in parts:
        step("service (NOTIFY_SOCKET: start → READY, SIGHUP reloads, watchdog cost)")
        found, details["service"] = service.run(args.quick)
        figures += found

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
