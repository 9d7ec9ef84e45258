"""``agentlight test-pattern``: every configured device through every look of the theme.

For checking wiring and colours without a server: each global state, each
session state and a few tools are shown in turn (named on the terminal), through
the real engine, so blinks blink and pulses breathe exactly as they will in
``agentlight run``. Afterwards, or on Ctrl-C, every device is left dark.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from bridge.engine import Device, Engine
from bridge.infra.config import Config, load_config
from bridge.infra.errors import ConfigError
from bridge.infra.logsetup import setup_logging
from bridge.infra.signals import SIGNALS
from bridge.pipeline.looks import Look
from bridge.pipeline.mapping import NO_TOOL
from bridge.pipeline.model import ConnectionState, GlobalState, Session, SessionState, SourceStatus
from bridge.pipeline.theme import Theme

SOURCE = "test-pattern"
MAX_SLOTS = 16

_CONNECTION = {
    GlobalState.CONNECTING: ConnectionState.CONNECTING,
    GlobalState.DISCONNECTED: ConnectionState.DISCONNECTED,
    GlobalState.AUTH_FAILED: ConnectionState.AUTH_FAILED,
}


@dataclass(frozen=True)
class Step:
    """One look of the pattern: its name, the status that produces it, and the look."""

    name: str
    status: SourceStatus
    look: Look


def pattern(theme: Theme, sessions: int = 1) -> list[Step]:
    """The steps: each global state, each session state, then every tool the theme names.

    :param sessions: how many sessions show a session state at once, so every
        slot of a device with several (LEDs, strip segments) lights up.
    """
    steps = []
    for state in GlobalState:
        if state in _CONNECTION:
            status = SourceStatus(SOURCE, _CONNECTION[state], None, "test pattern")
        else:
            status = SourceStatus.connected(SOURCE, state=state, detail="test pattern")
        steps.append(Step(f"global {state.value}", status, theme.global_look(state)))
    for session_state in SessionState:
        name = f"session {session_state.value}"
        steps.append(_session_step(theme, name, session_state, None, sessions))
    for tool in sorted(theme.tools):
        steps.append(
            _session_step(theme, f"tool {tool}", SessionState.TOOL_RUNNING, tool, sessions)
        )
    return steps


def _session_step(
    theme: Theme, name: str, state: SessionState, tool: str | None, count: int
) -> Step:
    sessions = tuple(
        Session(
            key=f"test-{i + 1}",
            id=f"test-{i + 1}",
            channel="test",
            state=state,
            title=f"test pattern {i + 1}",
            tool=tool,
            since=time.time(),
            source=SOURCE,
            raw_state=state.value,
        )
        for i in range(max(1, count))
    )
    # Active for every session state (an error too): the step is about the session's look.
    status = SourceStatus.connected(SOURCE, sessions, state=GlobalState.ACTIVE)
    return Step(name, status, theme.session_look(state, tool=tool, channel="test"))


def describe(look: Look, name: str = "") -> str:
    """``"Waiting for you" #ffb000 blink 1s 100%``: what the step should look like."""
    effect = look.effect.value
    if look.effect.animated:
        effect += f" {look.period:g}s"
    text = look.label
    if text:
        # Theme templates are checked at load to hold only plain placeholders.
        kind, _, value = name.partition(" ")
        tool = kind == "tool"
        fill = {"state": "tool_running" if tool else value, "tool": value if tool else NO_TOOL}
        fill["channel"] = "test"
        text = text.format(**fill, title="test pattern", session="test-1")
    label = f'"{text}" ' if text else ""
    return f"{label}{look.color.hex} {effect} {round(look.brightness * 100)}%"


async def run_test_pattern(
    config: Config,
    *,
    device: str | None = None,
    step: float = 2.0,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Walk the devices through the pattern; 0 when every device showed it, else 1."""
    from devices import driver_class

    out = out or sys.stdout
    chosen = [d for d in config.devices if device is None or d.name == device]
    if not chosen:
        names = ", ".join(d.name for d in config.devices)
        raise ConfigError(f"no device named {device!r}; the config has: {names}", file=config.file)
    # Every device follows the sessions here, whatever its show setting.
    devices = [Device(driver_class(d.type)(d.name, d.options), "session") for d in chosen]
    room = [dev.driver.caps.sessions for dev in devices]
    sessions = min(MAX_SLOTS, max([1, *(n for n in room if n)]))
    engine = Engine(devices, config.theme, on_exit=None, shutdown_timeout=config.shutdown_timeout)
    engine.publish(SourceStatus.connected(SOURCE, state=GlobalState.IDLE))
    stop = stop or asyncio.Event()
    steps = pattern(config.theme, sessions)
    color = out.isatty() and not os.environ.get("NO_COLOR")
    runner = asyncio.create_task(engine.run([], stop))
    ever_shown: set[str] = set()
    with SIGNALS.attached(stop):
        waiter = asyncio.create_task(stop.wait())
        open_wait = max(dev.driver.caps.open_timeout for dev in devices) + 1.0
        ready = asyncio.create_task(engine.ready.wait())
        await asyncio.wait({ready, waiter}, timeout=open_wait, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        _note_shown(devices, ever_shown)
        # A device that could not open is said at once, not after the whole pattern.
        for dev in devices:
            if dev.driver.name not in ever_shown:
                detail = dev.driver.health.detail or "it did not open in time"
                print(f"device {dev.driver.name}: cannot show the pattern: {detail}", file=out,
                      flush=True)  # fmt: skip
        if not ever_shown:
            stop.set()
        for i, s in enumerate(steps, 1):
            if stop.is_set():
                break
            dot = _dot(s.look) if color else ""
            print(
                f"{i:2d}/{len(steps)}  {dot}{s.name:<24} {describe(s.look, s.name)}",
                file=out,
                flush=True,
            )
            engine.publish(s.status)
            await asyncio.wait({waiter}, timeout=step)
            _note_shown(devices, ever_shown)
        stop.set()
        await runner
        waiter.cancel()
    failed = [dev.driver for dev in devices if dev.driver.name not in ever_shown]
    if failed and not ever_shown:
        print("no device could show the pattern; devices left dark", file=out, flush=True)
        return 1
    for driver in failed:
        print(f"device {driver.name}: showed nothing: {driver.health.detail}", file=out, flush=True)
    print("done; devices left dark", file=out, flush=True)
    return 1 if failed else 0


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    setup_logging(args.verbose, args.quiet, "warning")
    return asyncio.run(run_test_pattern(config, device=args.device, step=args.step))


def _note_shown(devices: Sequence[object], seen: set[str]) -> None:
    for dev in devices:
        driver = dev.driver  # type: ignore[attr-defined]
        if driver.health.ok:
            seen.add(driver.name)


def _dot(look: Look) -> str:
    r, g, b = look.color.to_bytes()
    return f"\x1b[38;2;{r};{g};{b}m●\x1b[0m "


__all__ = ["Step", "describe", "main", "pattern", "run_test_pattern"]
