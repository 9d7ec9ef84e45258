"""Serial LEDs over a real pty (pyserial opens a tty path): the exact bytes on the wire."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

pytest.importorskip("serial")

from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from bridge.infra.errors import ConfigError, DriverUnavailable
from bridge.infra.validate import from_table
from bridge.pipeline.looks import Color, Effect
from bridge.pipeline.model import GlobalState, SessionState
from bridge.pipeline.theme import default_theme
from devices import driver_class
from devices.led.color import Correction
from devices.led.serial import SerialLedDriver, SerialOptions, find_port
from devices.led.serial_protocol import (
    AdalightFrame,
    Segment,
    adalight_header,
    line_command,
    parse_hello,
    segments,
)
from tests.conftest import eventually
from tests.enginerig import EngineRun, status
from tests.frames import make_frame, make_look
from tests.ptyboard import Board

FIX = Correction()


@pytest.fixture
async def boards(tmp_path: Path) -> AsyncIterator[Callable[..., Board]]:
    made: list[Board] = []

    def make(name: str = "ttyLED", **kw: object) -> Board:
        board = Board(tmp_path / name, **kw)  # type: ignore[arg-type]
        made.append(board)
        return board

    yield make
    for board in made:
        board.close()


def frames_in(data: bytes, leds: int) -> list[bytes]:
    """Split a byte stream into Adalight frames, checking each header."""
    size = 6 + 3 * leds
    header = adalight_header(leds)
    assert len(data) % size == 0, f"{len(data)} bytes is not whole frames of {size}"
    out = [data[i : i + size] for i in range(0, len(data), size)]
    for frame in out:
        assert frame[:6] == header
    return out


# -- the framing, no I/O -------------------------------------------------------------


def test_adalight_header_count_and_checksum() -> None:
    # count = LEDs - 1; checksum = high ^ low ^ 0x55
    assert adalight_header(60) == b"Ada\x00\x3b\x6e"
    assert adalight_header(300) == b"Ada\x01\x2b\x7f"
    assert adalight_header(1) == b"Ada\x00\x00\x55"
    with pytest.raises(ValueError):
        adalight_header(0)


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("RGB", b"\xff\x80\x01"),
        ("GRB", b"\x80\xff\x01"),
        ("BGR", b"\x01\x80\xff"),
        ("BRG", b"\x01\xff\x80"),
    ],
)
def test_color_order(order: str, expected: bytes) -> None:
    frame = AdalightFrame(2, order)
    assert frame.solid((0xFF, 0x80, 0x01)) == adalight_header(2) + expected * 2


def test_segments_layout() -> None:
    assert segments(10, 2, 3, 1) == (
        Segment(0, 2, None),
        Segment(3, 3, 0),
        Segment(7, 3, 1),
    )
    assert segments(6, 0, 2, 0) == (Segment(0, 2, 0), Segment(2, 2, 1), Segment(4, 2, 2))
    driver = SerialLedDriver(
        "s",
        SerialOptions(port="x", leds=10, layout="segments", segment_leds=3, global_leds=2, gap=1),
    )
    assert driver.caps.sessions == 2
    assert driver.caps.refresh == 1.0


def test_line_commands_and_hello() -> None:
    pulse = make_look("#0070ff", "pulse", period=2.0)
    assert line_command(0, pulse, (0, 0x70, 0xFF)) == b"L 0 0070ff pulse 2000\n"
    assert line_command(1, make_look("#ff0000"), (255, 0, 0)) == b"L 1 ff0000 solid 0\n"
    off = make_look("#ff0000", "off")
    assert line_command(0, off, (255, 0, 0)) == b"L 0 000000 solid 0\n"
    assert parse_hello(b"agentlight 1 leds=2\r\n") == 2
    assert parse_hello(b"Ada\n") is None
    with pytest.raises(ValueError, match="flash firmware"):
        parse_hello(b"agentlight 9 leds=1")


def test_options_checked() -> None:
    assert driver_class("serial") is SerialLedDriver
    with pytest.raises(ConfigError, match="set port"):
        from_table(SerialOptions, {}, file="f", key="devices[0]")
    with pytest.raises(ConfigError, match="16-bit USB id"):
        from_table(SerialOptions, {"vid": 0x12345}, file="f", key="devices[0]")
    with pytest.raises(ConfigError, match="color_order"):
        from_table(SerialOptions, {"port": "x", "color_order": "RGBW"}, file="f", key="d")


def test_find_port_by_usb_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    def port(device: str, vid: int, pid: int, serial: str) -> ListPortInfo:
        info = ListPortInfo(device, skip_link_detection=True)
        info.vid, info.pid, info.serial_number = vid, pid, serial
        return info

    ports = [
        port("/dev/ttyACM1", 0x2341, 0x0043, "B"),
        port("/dev/ttyACM0", 0x2341, 0x0043, "A"),
        port("/dev/ttyUSB0", 0x1A86, 0x7523, "C"),
    ]
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    assert find_port(SerialOptions(vid=0x2341, pid=0x0043)) == "/dev/ttyACM0"
    assert find_port(SerialOptions(serial_number="B")) == "/dev/ttyACM1"
    assert find_port(SerialOptions(vid=0x1A86)) == "/dev/ttyUSB0"
    with pytest.raises(DriverUnavailable, match="vid=0x2341 pid=0x0001"):
        find_port(SerialOptions(vid=0x2341, pid=0x0001))


# -- over a pty ----------------------------------------------------------------------


async def test_adalight_bytes_on_the_wire(boards: Callable[..., Board]) -> None:
    board = boards()
    driver = SerialLedDriver(
        "strip", SerialOptions(port=str(board.link), leds=4, color_order="GRB", gamma=1.0)
    )
    await driver.open()
    await driver.show(make_frame("active", color="#ff8000"))
    await board.wait_for(lambda: len(board.received) >= 18)
    assert bytes(board.received) == b"Ada\x00\x03\x56" + b"\x80\xff\x00" * 4
    # A frame that looks the same (other label) writes nothing.
    await driver.show(make_frame("active", color="#ff8000", label="other"))
    await driver.show(make_frame("active", color="#000000"))
    await board.wait_for(lambda: len(board.received) >= 36)
    assert bytes(board.received[18:]) == b"Ada\x00\x03\x56" + b"\x00\x00\x00" * 4
    await driver.close()
    await board.wait_for(lambda: len(board.received) >= 54)
    assert bytes(board.received[36:]) == b"Ada\x00\x03\x56" + b"\x00" * 12  # dark on close


async def test_segments_refresh_and_replug(boards: Callable[..., Board]) -> None:
    """Global segment + two session slots; a static look is re-sent; the port comes back."""
    board = boards()
    options = SerialOptions(
        port=str(board.link), leds=8, layout="segments", segment_leds=2, global_leds=2, gap=1
    )
    driver = SerialLedDriver("strip", options)
    driver.override_caps(refresh=0.05)
    run = EngineRun([driver], retry=(0.02, 0.05))
    theme = default_theme()

    def rgb(state: SessionState, tool: str | None = None) -> bytes:
        look = theme.session_look(state, tool=tool, channel="websocket")
        return bytes(FIX.to_bytes(look.color.scaled(look.brightness)))

    active = theme.global_look(GlobalState.ACTIVE)
    glob = bytes(FIX.to_bytes(active.color.scaled(active.brightness)))
    dark = b"\x00\x00\x00"
    want_two = glob * 2 + dark + rgb(SessionState.TOOL_RUNNING, "bash") * 2 + dark
    want_two += rgb(SessionState.STREAMING) * 2
    run.publish(status(("a", "tool_running", "bash"), ("b", "streaming")))
    run.start()
    size = 6 + 3 * 8

    def frames() -> list[bytes]:
        whole = len(board.received) // size * size
        return frames_in(bytes(board.received[:whole]), 8)

    # Static: the same frame again at the refresh period, nothing else.
    await board.wait_for(lambda: len(frames()) >= 3)
    assert {f[6:] for f in frames()} == {want_two}

    # a ends: its segment goes dark, b keeps its place.
    run.publish(status(("b", "streaming")))
    await board.wait_for(lambda: frames()[-1][6:] != want_two)
    want_b = glob * 2 + dark + dark * 2 + dark + rgb(SessionState.STREAMING) * 2
    assert frames()[-1][6:] == want_b

    # Unplugged: writes fail, the engine drops the port and retries; a new
    # device behind the same link gets the frames again.
    board.unplug()
    await eventually(lambda: not driver.health.ok)  # the next refresh fails

    board = boards()
    await board.wait_for(lambda: len(frames()) >= 1)
    assert frames()[0][6:] == want_b
    await run.stop()


async def test_found_by_vid_pid_after_plugging_in(
    boards: Callable[..., Board], monkeypatch: pytest.MonkeyPatch
) -> None:
    attached: list[ListPortInfo] = []
    monkeypatch.setattr(list_ports, "comports", lambda: list(attached))
    driver = SerialLedDriver("strip", SerialOptions(vid=0x2341, pid=0x0043, leds=1, gamma=1.0))
    with pytest.raises(DriverUnavailable, match="no serial port with USB vid=0x2341"):
        await driver.open()
    board = boards()
    info = ListPortInfo(board.tty, skip_link_detection=True)
    info.vid, info.pid = 0x2341, 0x0043
    attached.append(info)
    await driver.open()
    await driver.show(make_frame("active", color="#102030"))
    await board.wait_for(lambda: len(board.received) >= 9)
    assert bytes(board.received) == b"Ada\x00\x00\x55\x10\x20\x30"
    await driver.close()


# -- the line protocol (the Arduino sketch) ------------------------------------------


async def test_line_protocol_waits_for_hello_and_sends_changes_only(
    boards: Callable[..., Board],
) -> None:
    board = boards(sketch=True, leds=2)
    driver = SerialLedDriver(
        "uno", SerialOptions(port=str(board.link), protocol="line", layout="segments")
    )
    assert driver.caps.native_effects == frozenset({Effect.BLINK, Effect.PULSE})
    driver.override_caps(refresh=0)  # no refresh: every byte below is a change
    run = EngineRun([driver])
    run.publish(status(("a", "thinking")))
    run.start()
    await board.wait_for(lambda: b"L 1" in board.received)
    assert driver.board_leds == 2
    assert driver.caps.sessions == 1  # LED 0 global, LED 1 the first session
    assert board.lines[0] == b"?"
    # Global "active" solid on LED 0, the thinking pulse on LED 1; the board animates it.
    theme = default_theme()
    active = theme.global_look(GlobalState.ACTIVE)
    thinking = theme.session_look(SessionState.THINKING, tool=None, channel="websocket")
    g = active.color.scaled(active.brightness).to_bytes()
    t = thinking.color.scaled(thinking.brightness).to_bytes()
    assert board.lines[1:] == [
        b"L 0 %02x%02x%02x solid 0" % g,
        b"L 1 %02x%02x%02x pulse 2000" % t,
    ]
    # The board runs the pulse, so the engine never wakes for it and nothing more
    # crosses the link (a native effect costing no wake-up is counted on the virtual
    # clock in test_engine; this driver declares the pulse native).
    assert Effect.PULSE in driver.caps.native_effects
    assert len(board.lines) == 3
    run.publish(status(("a", "waiting_for_user")))
    await board.wait_for(lambda: len(board.lines) >= 4)
    assert board.lines[3] == b"L 1 ffb000 blink 1000"  # only the LED that changed
    assert len(board.lines) == 4
    await run.stop()
    assert board.lines[-1] == b"O"


async def test_line_protocol_without_hello_says_what_to_check(
    boards: Callable[..., Board],
) -> None:
    board = boards(sketch=False)
    driver = SerialLedDriver(
        "uno", SerialOptions(port=str(board.link), protocol="line", hello_timeout=0.5)
    )
    board.say(b"Ada\n")
    with pytest.raises(DriverUnavailable, match=r"no hello from the board .* firmware/arduino"):
        await driver.open()


async def test_missing_port_is_one_clear_line(tmp_path: Path) -> None:
    driver = SerialLedDriver("strip", SerialOptions(port=str(tmp_path / "nothing")))
    with pytest.raises(DriverUnavailable, match=r"not there \(unplugged"):
        await driver.open()


def test_color_helpers() -> None:
    assert FIX.to_bytes(Color(0, 0, 0)) == (0, 0, 0)
    assert FIX.to_bytes(Color.from_bytes(1, 0, 0))[0] == 1  # a lit channel never vanishes


async def test_frame_that_does_not_fit_goes_out_whole(boards: Callable[..., Board]) -> None:
    """Writes go straight to the non-blocking tty; what it cannot take now goes via the thread."""
    board = boards()
    driver = SerialLedDriver("strip", SerialOptions(port=str(board.link), leds=60, gamma=1.0))
    await driver.open()
    assert driver._fd == driver.port.fd  # the fast path is on for a tty
    # Stand in a descriptor that takes nothing now (a full pipe) for the fast path.
    full_r, full_w = os.pipe()
    os.set_blocking(full_w, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(full_w, b"x" * 4096)
    driver._fd = full_w
    try:
        await driver.show(make_frame("active", color="#010203"))
    finally:
        driver._fd = driver.port.fd
        os.close(full_r)
        os.close(full_w)
    frame = adalight_header(60) + b"\x01\x02\x03" * 60
    await board.wait_for(lambda: len(board.received) >= len(frame))
    assert bytes(board.received) == frame
    await driver.close()


async def test_line_board_that_restarts_gets_everything_again(
    boards: Callable[..., Board], monkeypatch: pytest.MonkeyPatch
) -> None:
    import devices.led.serial as serial_led

    monkeypatch.setattr(serial_led, "_HELLO_ECHO", 0.0)
    board = boards(sketch=True, leds=2)
    driver = SerialLedDriver(
        "uno", SerialOptions(port=str(board.link), protocol="line", layout="segments")
    )
    await driver.open()
    await driver.show(make_frame("active", [("a", "error")], color="#0000ff"))
    await board.wait_for(lambda: len(board.lines) >= 3)
    assert board.lines[1:] == [b"L 0 0000ff solid 0", b"L 1 ff0000 blink 500"]
    board.say(b"agentlight 1 leds=2\r\n")  # reset button: the board is dark again
    await board.delivered()  # the driver reads it at its next write
    await driver.show(make_frame("active", [("a", "thinking")], color="#0000ff"))
    await board.wait_for(lambda: len(board.lines) >= 6)
    # The change, then everything the board should show.
    assert board.lines[3:] == [
        b"L 1 00aaff pulse 2000",
        b"L 0 0000ff solid 0",
        b"L 1 00aaff pulse 2000",
    ]
    await driver.close()
    await board.wait_for(lambda: board.lines[-1] == b"O")
