"""Stream Deck figures: drawing one key, key writes per change, memory with a deck open.

- render + encode: one session key drawn by Pillow and turned into the deck's
  own format by the streamdeck library's PILHelper, uncached (every face new),
  per model, in CPU time of the drawing thread (wall clock in the note);
  budget 5 ms.
- key writes per change: a dummy MK.2 with 10 sessions, one session changing
  state at a time, counted at the driver (what reaches ``set_key_image``);
  budget one write per changed session.
- RSS: ``agentlight demo`` with a dummy deck (the built-in simulator drives
  sessions through every state), peak RSS from /proc; budget 60 MB.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.report import Figure, percentile

_MODELS = ("mk2", "mini", "xl", "plus")


def run(quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    found, details["render"] = _render(200 if quick else 1000)
    figures += found
    found, details["writes"] = asyncio.run(_writes(30 if quick else 200))
    figures += found
    found, details["rss"] = _rss(4.0 if quick else 10.0)
    figures += found
    return figures, details


def _render(n: int) -> tuple[list[Figure], dict[str, Any]]:
    from StreamDeck.ImageHelpers import PILHelper

    from devices.streamdeck.dummy import dummy_deck
    from devices.streamdeck.render import Face, render_key

    figures = []
    details: dict[str, Any] = {}
    for model in _MODELS:
        deck = dummy_deck(model, "BENCH")
        size = deck.key_image_format()["size"]
        times, walls = [], []
        for i in range(n + 20):
            # A new face every time (the footer ticks), as a key whose time in state moves.
            face = Face(
                "session", (0, 42, 96), (0, 112, 255), "TELEGRAM", "bash",
                ("Deploy the staging environment",), f"{i // 60}m{i % 60:02d}s · 57k tok",
            )  # fmt: skip
            # CPU time of this thread: the work itself, not the other
            # processes this shared machine happens to run meanwhile.
            t0, w0 = time.thread_time(), time.perf_counter()
            PILHelper.to_native_key_format(deck, render_key(face, size))
            cpu, wall = (time.thread_time() - t0) * 1000, (time.perf_counter() - w0) * 1000
            if i >= 20:  # the first draws load the font
                times.append(cpu)
                walls.append(wall)
        med, p99 = percentile(times, 50), percentile(times, 99)
        wall_med, wall_p99 = percentile(walls, 50), percentile(walls, 99)
        details[model] = {
            "cpu_median_ms": med,
            "cpu_p99_ms": p99,
            "wall_median_ms": wall_med,
            "wall_p99_ms": wall_p99,
            "n": n,
            "size": list(size),
        }
        figures.append(
            Figure(
                f"streamdeck.render.{model}",
                f"render + encode one key, {deck.deck_type()} ({size[0]}x{size[1]} "
                f"{deck.KEY_IMAGE_FORMAT}), CPU p99",
                p99,
                "ms",
                5.0,
                note=f"median {med:.2f} ms over {n}; wall clock median {wall_med:.2f}, "
                f"p99 {wall_p99:.2f} ms",
            )
        )
    return figures, details


async def _writes(changes: int) -> tuple[list[Figure], dict[str, Any]]:
    from bridge.pipeline.looks import Effect
    from bridge.pipeline.mapping import Mapper, frame_for
    from bridge.pipeline.model import AgentStatus, GlobalState, Session, SessionState, SourceStatus
    from bridge.pipeline.slots import SlotMap
    from bridge.pipeline.theme import default_theme
    from devices.streamdeck.driver import StreamDeckDriver, StreamDeckOptions

    now = [1000.0]
    driver = StreamDeckDriver(
        "bench", StreamDeckOptions(dummy=True), clock=lambda: 0.0, mono=lambda: now[0]
    )
    mapper, slots = Mapper(default_theme()), SlotMap(None)
    states = [
        SessionState.THINKING,
        SessionState.TOOL_RUNNING,
        SessionState.STREAMING,
        SessionState.WAITING_FOR_USER,
        SessionState.ERROR,
    ]
    sessions = [
        Session(f"websocket:s{i}", f"s{i}", "websocket", SessionState.THINKING, title=f"Task {i}",
                source="pp")
        for i in range(10)
    ]  # fmt: skip
    rand = random.Random(7)

    def frame() -> Any:
        pp = SourceStatus.connected("pp", sessions, state=GlobalState.ACTIVE, limit=10)
        status = AgentStatus.fold((pp,))
        mapped = mapper.map(status, 0.0)
        return frame_for("bench", mapped, 0.0, native=frozenset(Effect), slots=slots)

    await driver.open()
    try:
        await driver.show(frame())
        per_change = []
        for _ in range(changes):
            i = rand.randrange(len(sessions))
            old = sessions[i]
            new_state = rand.choice([s for s in states if s is not old.state])
            tool = "bash" if new_state is SessionState.TOOL_RUNNING else None
            error = "rate limited" if new_state is SessionState.ERROR else None
            sessions[i] = Session(
                old.key, old.id, old.channel, new_state, title=old.title, tool=tool,
                error=error, source="pp",
            )  # fmt: skip
            before = driver.key_writes
            await driver.show(frame())
            per_change.append(driver.key_writes - before)
        # One refresh with nothing changed and no blink due: nothing written.
        before = driver.key_writes
        await driver.show(frame(), force=True)
        idle_refresh = driver.key_writes - before
    finally:
        await driver.close()
    mean = sum(per_change) / len(per_change)
    details = {"changes": changes, "per_change": per_change, "idle_refresh": idle_refresh}
    return [
        Figure(
            "streamdeck.writes.per_change",
            "key writes per session state change (10 sessions, MK.2), max",
            float(max(per_change)),
            "writes",
            1.0,
            note=f"mean {mean:.2f} over {changes} changes; unchanged refresh: {idle_refresh}",
        )
    ], details


def _rss(window: float) -> tuple[list[Figure], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="agentlight-sd-bench-") as tmp:
        config = Path(tmp) / "deck.toml"
        config.write_text(
            '[[sources]]\ntype = "pocketpaw"\nurl = "http://127.0.0.1:9"\n\n'
            '[[devices]]\ntype = "streamdeck"\ndummy = true\ndummy_model = "xl"\n',
            encoding="utf-8",
        )
        proc = subprocess.Popen(
            [*procs.agentlight_command(), "demo", "-c", str(config), "--speed", "4",
             "--duration", str(window + 5)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=procs.ROOT,
        )  # fmt: skip
        try:
            time.sleep(window)
            alive = proc.poll() is None
            memory = procs.memory_kib(proc.pid) if alive else {}
            cpu = procs.cpu_seconds(proc.pid) if alive else float("nan")
        finally:
            procs.stop(proc)
    if not memory:
        raise RuntimeError("agentlight demo with a dummy Stream Deck exited early")
    mb = 1024 / 1e6
    return [
        Figure(
            "streamdeck.rss",
            "peak RSS, agentlight demo with a dummy Stream Deck XL",
            memory["VmHWM"] * mb,
            "MB",
            60.0,
            note=f"VmHWM after {window:.0f} s (simulator in process); "
            f"CPU {cpu / window * 100:.1f} % of a core incl. start-up",
        )
    ], {"memory_kib": memory, "cpu_s": cpu, "window_s": window}
