"""The Arduino sketch's protocol side, compiled for this machine with a tiny Arduino shim.

``tests/sketch/Arduino.h`` stands in for the Arduino core (serial through memory,
``analogWrite`` recorded, ``millis()`` set by the test), so the very file users
flash, ``firmware/arduino/agentlight/agentlight.ino``, parses our lines, answers
hello, runs blink and pulse over (fake) time and keeps its watchdog. The bytes
it receives are the ones the bridge's line protocol sends.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bridge.pipeline.looks import Color
from devices.led.serial_protocol import LINE_HELLO_REQUEST, line_command, parse_hello
from tests.frames import make_look

ROOT = Path(__file__).resolve().parent.parent
SKETCH = ROOT / "firmware" / "arduino" / "agentlight" / "agentlight.ino"
GXX = shutil.which("g++") or shutil.which("c++")
GAMMA = [0] + [max(1, round(255 * (i / 255) ** 2.2)) for i in range(1, 256)]

pytestmark = pytest.mark.skipif(GXX is None, reason="no C++ compiler to build the sketch")


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("sketch") / "agentlight-sketch"
    assert GXX is not None
    subprocess.run(
        [
            GXX,
            "-std=gnu++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(ROOT / "tests" / "sketch"),
            f'-DAGENTLIGHT_SKETCH="{SKETCH}"',
            "-x",
            "c++",
            str(ROOT / "tests" / "sketch" / "host.cpp"),
            "-o",
            str(exe),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return exe


def run(board: Path, *commands: str | bytes) -> list[str]:
    """Feed commands (bytes = a line the bridge sends); return the sketch's output lines."""
    script = []
    for command in commands:
        if isinstance(command, bytes):
            script.append("> " + command.decode().rstrip("\n"))
        else:
            script.append(command)
    result = subprocess.run(
        [str(board)], input="\n".join(script) + "\n", capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def pins(line: str) -> tuple[int, int, int]:
    values = dict(part.split("=") for part in line.split()[1:])
    return (int(values["9"]), int(values["10"]), int(values["11"]))


def test_hello_at_boot_and_when_asked(board: Path) -> None:
    out = run(board, LINE_HELLO_REQUEST)
    assert out == ["serial agentlight 1 leds=1", "serial agentlight 1 leds=1"]
    assert parse_hello(b"agentlight 1 leds=1\r\n") == 1  # what the bridge makes of it


def test_solid_look_with_gamma(board: Path) -> None:
    line = line_command(0, make_look("#ff8000"), Color.parse("#ff8000").to_bytes())
    out = run(board, line, "t 20", "p")
    assert pins(out[-1]) == (255, GAMMA[0x80], 0)


def test_blink_runs_on_the_board_and_a_refresh_keeps_its_phase(board: Path) -> None:
    blink = line_command(0, make_look("#ff0000", "blink", period=1.0), (255, 0, 0))
    out = run(
        board,
        "t 1000",
        blink,  # starts at 1000 ms, on first
        "t 1100",
        "p",
        "t 1600",
        "p",
        blink,  # the bridge's refresh: same look, so no restart (still off)
        "t 1610",
        "p",
        "t 2100",
        "p",
    )
    states = [pins(line)[0] for line in out if line.startswith("pins")]
    assert states == [255, 0, 0, 255]


def test_pulse_breathes_down_to_its_floor(board: Path) -> None:
    pulse = line_command(0, make_look("#0000ff", "pulse", period=2.0), (0, 0, 255))
    out = run(board, "t 0", pulse, "t 10", "p", "t 1000", "p", "t 2000", "p")
    blue = [pins(line)[2] for line in out if line.startswith("pins")]
    floor = round(255 * 0.08)
    assert blue == [GAMMA[round(255 * (0.08 + 0.92 * (0.5 + 0.5 * _cos(10 / 2000))))],
                    GAMMA[floor], 255]  # fmt: skip


def test_watchdog_and_off(board: Path) -> None:
    solid = line_command(0, make_look("#00ff00"), (0, 255, 0))
    out = run(board, "t 0", solid, "t 20", "p", "t 15030", "p", "> O", "t 40000", "p")
    states = [pins(line) for line in out if line.startswith("pins")]
    assert states[0] == (0, 255, 0)
    # 15 s of silence: "no bridge", a dim white blink on LED 0 (on at 15030: 15030 // 1500 even).
    assert states[1] == (GAMMA[40],) * 3
    assert states[2] == (0, 0, 0)  # off, and the watchdog stays quiet


def test_bad_lines_are_answered_not_obeyed(board: Path) -> None:
    out = run(
        board,
        "> L 3 ff0000 solid 0",
        "> L 0 zz0000 solid 0",
        "> L 0 ff0000 sparkle 100",
        "> L 0 ff0000 blink 10",
        "> L 0",
        "> " + "x" * 100,
        "> Q",
        "t 20",
        "p",
    )
    assert [line for line in out if line.startswith("serial err")] == [
        "serial err no such led",
        "serial err colour must be rrggbb",
        "serial err effect must be solid, blink or pulse",
        "serial err period must be >= 50 ms",
        "serial err L needs: led rrggbb effect ms",
        "serial err line too long",
        "serial err unknown command",
    ]
    assert pins(out[-1]) == (0, 0, 0)


def _cos(phase: float) -> float:
    import math

    return math.cos(2 * math.pi * phase)
