"""Cost of the LED drivers, measured from outside the process.

Three ``agentlight run`` processes against an idle simulator, side by side:

- one GPIO RGB LED pulsing (the idle look made a pulse), on gpiozero's mock PWM
  pins (``pin_factory = "mock"``): the driver and gpiozero's pin writes, 30 fps;
- a 60-LED Adalight strip pulsing at 30 fps on a pseudo-terminal (pyserial
  opens the tty; a thread drains the other end and counts bytes and frames);
- the same strip and the GPIO LED with a static look, each in its own process:
  CPU, and bytes per second on the wire (only the 1 s refresh WLED needs).

CPU is utime+stime from ``/proc/<pid>/stat``; nothing is self-reported.
"""

from __future__ import annotations

import os
import tempfile
import time
import tty
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.report import Figure

_SETTLE = 2.0
LEDS = 60
FRAME = 6 + 3 * LEDS
# A full-brightness pulse: every frame changes the bytes (a dim one would not).
PULSE_THEME = (
    '[theme.global.idle]\ncolor = "#ffffff"\neffect = "pulse"\nperiod = 2.0\nbrightness = 1.0\n'
)


class Wire(procs.DrainedPty):
    """The far end of a pty a bridge writes a strip to: counts bytes and frame headers."""

    def __init__(self) -> None:
        super().__init__()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        # The slave stays open here so the pty lives until the bridge opens it.
        self.frames = 0
        self._tail = b""
        self.start()

    def _seen(self, data: bytes) -> None:
        joined = self._tail + data
        self.frames += joined.count(b"Ada")
        self._tail = joined[-2:]

    def close(self) -> None:
        os.close(self.slave)
        super().close()


def _strip(port: str) -> str:
    return f'[[devices]]\ntype = "serial"\nname = "strip"\nport = "{port}"\nleds = {LEDS}\n'


def _gpio(red: int = 17) -> str:
    return (
        f'[[devices]]\ntype = "gpio"\nname = "led{red}"\npin_factory = "mock"\n'
        f"red = {red}\ngreen = {red + 1}\nblue = {red + 2}\n"
    )


def run(quick: bool, url: str) -> tuple[list[Figure], dict[str, Any]]:
    window = 10.0 if quick else 60.0
    with tempfile.TemporaryDirectory(prefix="agentlight-leds-") as name:
        tmp = Path(name)
        pulsing, static = Wire(), Wire()
        gpio_cfg = procs.write_config(tmp / "gpio.toml", url, _gpio(), PULSE_THEME)
        strip_cfg = procs.write_config(tmp / "strip.toml", url, _strip(pulsing.path), PULSE_THEME)
        static_cfg = procs.write_config(tmp / "static.toml", url, _strip(static.path))
        still_cfg = procs.write_config(tmp / "still.toml", url, _gpio(5))
        bridges = {
            "gpio": procs.spawn_run(gpio_cfg, tmp / "gpio.log"),
            "strip": procs.spawn_run(strip_cfg, tmp / "strip.log"),
            "static": procs.spawn_run(static_cfg, tmp / "static.log"),
            "still": procs.spawn_run(still_cfg, tmp / "still.log"),
        }
        try:
            deadline = time.monotonic() + 10
            while (pulsing.frames < 30 or static.frames < 1) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(_SETTLE)
            for key, proc in bridges.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{key} bridge exited: {(tmp / f'{key}.log').read_text()}")
            t0 = time.monotonic()
            cpu0 = {k: procs.cpu_seconds(p.pid) for k, p in bridges.items()}
            wire0 = (pulsing.bytes, pulsing.frames, static.bytes, static.frames)
            time.sleep(window)
            cpu1 = {k: procs.cpu_seconds(p.pid) for k, p in bridges.items()}
            wire1 = (pulsing.bytes, pulsing.frames, static.bytes, static.frames)
            elapsed = time.monotonic() - t0
            memory = {k: procs.memory_kib(p.pid) for k, p in bridges.items()}
        finally:
            for proc in bridges.values():
                procs.stop(proc)
            pulsing.close()
            static.close()
    pct = {k: (cpu1[k] - cpu0[k]) / elapsed * 100 for k in bridges}
    strip_fps = (wire1[1] - wire0[1]) / elapsed
    strip_bps = (wire1[0] - wire0[0]) / elapsed
    static_bps = (wire1[2] - wire0[2]) / elapsed
    static_fps = (wire1[3] - wire0[3]) / elapsed
    resolution = 100 / (os.sysconf("SC_CLK_TCK") * elapsed)
    mb = 1024 / 1e6
    details = {
        "window_s": elapsed,
        "cpu_percent": pct,
        "strip": {"frames_per_s": strip_fps, "bytes_per_s": strip_bps},
        "static": {"frames_per_s": static_fps, "bytes_per_s": static_bps},
        "memory_kib": memory,
    }
    figures = [
        Figure(
            "leds.gpio.pulse.cpu",
            "CPU, one GPIO LED pulsing (gpiozero mock PWM pins)",
            pct["gpio"],
            "% core",
            2.0,
            note=f"30 fps cap; {(cpu1['gpio'] - cpu0['gpio']) / elapsed * 60:.3f} CPU s/min",
        ),
        Figure(
            "leds.strip.pulse.cpu",
            f"CPU, {LEDS}-LED Adalight strip pulsing (pty)",
            pct["strip"],
            "% core",
            2.0,
            note=f"{strip_fps:.1f} frames/s, {strip_bps:.0f} B/s on the wire",
        ),
        Figure(
            "leds.gpio.static.cpu",
            "CPU, static look on a GPIO LED",
            pct["still"],
            "% core",
            0.05,
            note=f"resolution {resolution:.2f} %",
        ),
        Figure(
            "leds.strip.static.cpu",
            f"CPU, static look on a {LEDS}-LED strip (1 s refresh)",
            pct["static"],
            "% core",
            0.1,
            note="all of it the refresh's wake-up: 0 with refresh = 0",
        ),
        Figure(
            "leds.static.wire",
            f"bytes/s on the wire, static look, {LEDS}-LED strip",
            static_bps,
            "B/s",
            float(FRAME) * 1.05,
            note=f"{static_fps:.2f} frames/s: the 1 s refresh WLED needs ({FRAME} B a frame)",
        ),
        Figure(
            "leds.rss",
            "peak RSS, 60-LED strip (static)",
            memory["static"]["VmHWM"] * mb,
            "MB",
            40.0,
            note="VmHWM",
        ),
    ]
    return figures, details
