"""LEDs on a serial port, through pyserial: Adalight strips (WLED too) and our Arduino sketch.

``protocol = "adalight"`` sends whole frames (every LED's colour) whenever the
colours change, and again every ``refresh`` seconds while they do not, because
WLED leaves realtime mode 2.5 s after the last frame. ``protocol = "line"``
sends one short text line per change to ``firmware/arduino/agentlight``, which
runs blink and pulse itself; see :mod:`devices.led.serial_protocol` for both formats.

The port is a path (``/dev/ttyACM0``, a ``/dev/serial/by-id/...`` link), a
pyserial URL, or found by USB ``vid``/``pid``/``serial_number``. Writes run on
the driver's own thread; a port that fails (unplugged) is dropped and the
engine reopens it with back-off, finding it again by its USB ids.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Literal

from bridge.infra.errors import DriverError, DriverUnavailable
from bridge.pipeline.frame import Frame
from bridge.pipeline.looks import BLACK, Color, Effect, Look
from devices.base import Capabilities, Driver
from devices.led.color import Correction, check_correction
from devices.led.serial_protocol import (
    COLOR_ORDERS,
    LINE_HELLO_REQUEST,
    LINE_OFF,
    AdalightFrame,
    line_command,
    order_index,
    parse_hello,
    segments,
)
from devices.led.view import slot_look

log = logging.getLogger("agentlight.devices.serial")

ColorOrder = Literal["RGB", "RBG", "GRB", "GBR", "BRG", "BGR"]

#: Seconds after the hello in which another hello is the same start, not a restart.
_HELLO_ECHO = 3.0

#: Seconds between re-sends of an unchanged look, per protocol (``refresh`` overrides).
DEFAULT_REFRESH = {"adalight": 1.0, "line": 5.0}


@dataclass(frozen=True, slots=True)
class SerialOptions:
    """Options of the ``serial`` driver.

    :param protocol: ``adalight`` (Adalight/FastLED sketches, WLED, Hyperion
        setups) or ``line`` (agentlight's Arduino sketch).
    :param port: a device path or pyserial URL; empty = find it by ``vid``,
        ``pid`` and/or ``serial_number`` (see ``agentlight devices``).
    :param vid: USB vendor id of the port, e.g. 0x2341 (Arduino).
    :param pid: USB product id of the port.
    :param serial_number: USB serial number, to tell two identical boards apart.
    :param baudrate: bits per second; 115200 is WLED's default and the sketch's.
    :param leds: LEDs on the strip (adalight); the sketch reports its own count.
    :param color_order: the order the strip wants each LED's bytes in.
    :param layout: ``all``: every LED shows the device's look; ``segments``: a
        global segment first, then one segment per session slot.
    :param segment_leds: LEDs per session segment (adalight).
    :param global_leds: LEDs of the global segment (adalight; default
        ``segment_leds``; 0 = none).
    :param gap: dark LEDs between segments (adalight).
    :param brightness: cap 0-1 on everything this device shows (saves power on long strips).
    :param gamma: perceptual-to-linear exponent (adalight; the sketch has its own);
        set 1 when the firmware corrects gamma itself.
    :param balance: [red, green, blue] multipliers 0-1 (adalight).
    :param hello_timeout: seconds to wait for the sketch's hello after opening
        the port (an Uno resets for about 2 s when the port opens).
    """

    protocol: Literal["adalight", "line"] = "adalight"
    port: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str = ""
    baudrate: int = 115200
    leds: int = 1
    color_order: ColorOrder = "RGB"
    layout: Literal["all", "segments"] = "all"
    segment_leds: int = 1
    global_leds: int | None = None
    gap: int = 0
    brightness: float = 1.0
    gamma: float = 2.2
    balance: tuple[float, ...] = (1.0, 1.0, 1.0)
    hello_timeout: float = 4.0

    def __post_init__(self) -> None:
        if not (self.port or self.vid is not None or self.pid is not None or self.serial_number):
            raise ValueError(
                "set port (e.g. '/dev/ttyACM0') or vid/pid/serial_number to find it; "
                "'agentlight devices' lists the serial ports"
            )
        for key in ("vid", "pid"):
            value = getattr(self, key)
            if value is not None and not 0 <= value <= 0xFFFF:
                raise ValueError(f"{key} is a 16-bit USB id like 0x2341, got {value!r}")
        if self.baudrate <= 0:
            raise ValueError(f"baudrate must be > 0, got {self.baudrate!r}")
        if not 1 <= self.leds <= 65536:
            raise ValueError(f"leds must be from 1 to 65536, got {self.leds!r}")
        order_index(self.color_order)
        if self.segment_leds < 1:
            raise ValueError(f"segment_leds must be >= 1, got {self.segment_leds!r}")
        if self.global_leds is not None and self.global_leds < 0:
            raise ValueError(f"global_leds must be >= 0, got {self.global_leds!r}")
        if self.gap < 0:
            raise ValueError(f"gap must be >= 0, got {self.gap!r}")
        check_correction(self.brightness, self.gamma, self.balance)
        if not 0 < self.hello_timeout <= 60:
            raise ValueError(
                f"hello_timeout must be seconds in (0, 60], got {self.hello_timeout!r}"
            )

    @property
    def where(self) -> str:
        """The port as the user named it, for messages."""
        if self.port:
            return self.port
        parts = [
            f"vid=0x{self.vid:04x}" if self.vid is not None else "",
            f"pid=0x{self.pid:04x}" if self.pid is not None else "",
            f"serial_number={self.serial_number!r}" if self.serial_number else "",
        ]
        return "USB " + " ".join(p for p in parts if p)


class SerialLedDriver(Driver):
    """Shows looks on LEDs behind a serial port.

    :param name: the device's name.
    :param options: a :class:`SerialOptions`.
    :param clock: monotonic time, for the refresh (tests may pass a fake one).
    """

    TYPE = "serial"
    Options = SerialOptions
    # The sketch's hello may take ~2 s after an Uno resets on open; the
    # refresh and room for sessions follow the protocol and layout options.
    CAPS = Capabilities(fps=30.0, sessions=0, refresh=DEFAULT_REFRESH["adalight"], open_timeout=6.0)

    def __init__(
        self,
        name: str,
        options: SerialOptions | None = None,
        *,
        clock: Any = time.monotonic,
    ) -> None:
        super().__init__(name, options)
        opts: SerialOptions = self.options
        self._clock = clock
        self._port: Any = None
        self._written: bytes | None = None
        self._written_at = 0.0
        self._lines: list[bytes] = []
        self._fd: int | None = None
        self._hello_at = 0.0
        self._correction = Correction(opts.brightness, opts.gamma, tuple(opts.balance))  # type: ignore[arg-type]
        self._line = opts.protocol == "line"
        self._board_leds = 0
        global_leds = opts.segment_leds if opts.global_leds is None else opts.global_leds
        self._segments = (
            segments(opts.leds, global_leds, opts.segment_leds, opts.gap)
            if opts.layout == "segments" and not self._line
            else ()
        )
        self._ada = None if self._line else AdalightFrame(opts.leds, opts.color_order)
        caps = dataclasses.replace(
            self.caps,
            refresh=DEFAULT_REFRESH[opts.protocol],
            open_timeout=max(self.caps.open_timeout, opts.hello_timeout + 2.0),
        )
        if self._line:
            # The board runs these itself; only changes cross the link.
            caps = dataclasses.replace(caps, native_effects=frozenset({Effect.BLINK, Effect.PULSE}))
        if opts.layout == "segments":
            # Line: LED 0 is global, the others one slot each (known after the hello).
            slots = sum(1 for s in self._segments if s.slot is not None)
            caps = dataclasses.replace(caps, sessions=slots)
        self.caps = caps

    @property
    def port(self) -> Any:
        """The open pyserial port (for tests)."""
        return self._port

    @property
    def board_leds(self) -> int:
        """LEDs the sketch said it drives (line protocol), 0 before its hello."""
        return self._board_leds

    # -- open / close ---------------------------------------------------------

    async def _open(self) -> None:
        self._port = await self.blocking(self._open_port)
        self._written = None
        self._lines = []
        self._fd = None if self._line else _nonblocking_fd(self._port)
        if self._line:
            try:
                self._board_leds = await self.blocking(self._await_hello)
                self._hello_at = time.monotonic()
            except BaseException:
                await self.blocking(self._port.close)
                self._port = None
                raise
            if self.options.layout == "segments":
                self.caps = dataclasses.replace(self.caps, sessions=max(0, self._board_leds - 1))

    def preflight(self) -> list[str]:
        """The library, the port (attached, by path or USB ids) and access to it,
        without opening it (opening resets an Arduino)."""
        opts: SerialOptions = self.options
        try:
            import serial  # noqa: F401 - only whether it is there
        except ImportError:
            return ["pyserial is not installed; pip install 'agentlight[serial]'"]
        try:
            path = find_port(opts)
        except DriverError as err:
            return [str(err)]
        if "://" in path:  # pyserial's URL handlers (loop://, socket://): nothing to stat
            return []
        if not os.path.exists(path):
            return [f"{path} is not there (unplugged?); see 'agentlight devices'"]
        if not os.access(path, os.R_OK | os.W_OK):
            return [explain_serial_error(PermissionError(13, "Permission denied"), path)]
        return []

    def _open_port(self) -> Any:
        opts: SerialOptions = self.options
        try:
            import serial
        except ImportError as err:
            raise DriverError(
                f"{self.name}: pyserial is not installed; pip install 'agentlight[serial]'"
            ) from err
        path = find_port(opts)
        try:
            return serial.serial_for_url(
                path, baudrate=opts.baudrate, timeout=0.2, write_timeout=1.0
            )
        except serial.SerialException as err:
            raise DriverUnavailable(f"{self.name}: {explain_serial_error(err, path)}") from err

    def _await_hello(self) -> int:
        """Read lines until the sketch says hello; ask for it now and then (no reset on open)."""
        opts: SerialOptions = self.options
        port = self._port
        deadline = time.monotonic() + opts.hello_timeout
        asked = 0.0
        seen: list[bytes] = []
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now - asked >= 1.0:
                # A board that did not reset (Leonardo, DTR off) answers a question.
                port.write(LINE_HELLO_REQUEST)
                asked = now
            line = port.readline()  # returns after the port's 0.2 s timeout
            if not line:
                continue
            try:
                leds = parse_hello(line)
            except ValueError as err:
                raise DriverError(f"{self.name}: {err}") from err
            if leds is not None:
                log.info("%s: board on %s says hello (%d LEDs)", self.name, opts.where, leds)
                return leds
            seen.append(line[:40])
        heard = f"; it sent {seen[-1]!r}" if seen else ""
        raise DriverUnavailable(
            f"{self.name}: no hello from the board on {opts.where} within "
            f"{opts.hello_timeout:g} s{heard}: is firmware/arduino/agentlight flashed, "
            f"at baudrate {opts.baudrate}?"
        )

    async def _close(self, *, blank: bool) -> None:
        port, self._port = self._port, None
        self._written = None
        self._fd = None
        if port is not None:
            await self.blocking(self._close_port, port, blank)

    def _close_port(self, port: Any, blank: bool) -> None:
        try:
            if blank:
                port.write(self._dark())
                port.flush()  # the dark frame must leave before the port closes
        except Exception as err:
            log.debug("%s: could not blank on close: %s", self.name, err)
        finally:
            port.close()

    def _dark(self) -> bytes:
        if self._line:
            return LINE_OFF
        assert self._ada is not None
        return self._ada.solid((0, 0, 0))

    # -- show -----------------------------------------------------------------

    async def _show(self, frame: Frame) -> None:
        refresh = self.caps.refresh
        now = self._clock()
        # An equal frame is the engine's refresh; else write only what changed,
        # but never let the link go quiet for longer than the refresh.
        resend = frame == self.last_frame or (
            refresh is not None and now - self._written_at >= refresh * 0.95
        )
        if self._line:
            lines = self._line_commands(frame)
            data = b"".join(lines)
            send = data if resend else self._changed_lines(lines)
            self._lines = lines
        else:
            data = self.encode(frame)
            send = data if resend or data != self._written else b""
        if not send:
            return
        rest = self._write_now(send) if self._fd is not None else send
        if rest:
            await self.blocking(self._write, rest, data)
        self._written = data
        self._written_at = now

    def _write_now(self, data: bytes) -> bytes:
        """Write what the tty takes right now, on the loop; return what it did not take.

        pyserial keeps the descriptor non-blocking, so this never waits: a
        strip frame almost always fits the kernel's buffer at once, and a
        thread hop per frame would cost more CPU than the write (30 fps on a
        Pi Zero). Whatever does not fit goes through the driver's thread.
        """
        assert self._fd is not None
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            return data
        except OSError as err:
            raise DriverUnavailable(
                f"{self.name}: {explain_serial_error(err, self.options.where)}"
            ) from err
        return data[written:]

    def _changed_lines(self, lines: list[bytes]) -> bytes:
        """Only the LEDs whose look changed: the board keeps the others (and their phase)."""
        before = self._lines
        return b"".join(
            line for i, line in enumerate(lines) if i >= len(before) or before[i] != line
        )

    def _write(self, data: bytes, full: bytes) -> None:
        """Write ``data``; ``full`` is everything the device should show (after a board restart)."""
        port = self._port
        if port is None:
            raise DriverUnavailable(f"{self.name}: port closed")
        try:
            port.write(data)
            if self._line and port.in_waiting:
                self._read_board(port, full)
        except Exception as err:
            raise DriverUnavailable(
                f"{self.name}: {explain_serial_error(err, self.options.where)}"
            ) from err

    def _read_board(self, port: Any, full: bytes) -> None:
        for raw in port.read(port.in_waiting).splitlines():
            line = raw.strip()
            if not line:
                continue
            if parse_hello(line) is not None:
                if time.monotonic() - self._hello_at < _HELLO_ECHO:
                    continue  # its boot hello and the answer to our "?": one start
                # The board restarted (brown-out, someone pressed reset): it is
                # dark now, so send everything again.
                log.info("%s: board restarted; sending the looks again", self.name)
                port.write(full)
            else:
                log.debug("%s: board says %r", self.name, line[:80])

    def encode(self, frame: Frame) -> bytes:
        """The bytes that show ``frame`` on this device (all of them)."""
        if self._line:
            return b"".join(self._line_commands(frame))
        assert self._ada is not None
        fix = self._correction.to_bytes
        if not self._segments:
            return self._ada.solid(fix(frame.color))
        parts = []
        for seg in self._segments:
            if seg.slot is None:
                color = frame.global_color
            else:
                found = slot_look(frame, seg.slot)
                color = found[1] if found is not None else BLACK
            parts.append((seg, fix(color)))
        return self._ada.painted(parts)

    def _line_commands(self, frame: Frame) -> list[bytes]:
        leds = max(1, self._board_leds)
        looks: list[Look]
        if self.options.layout == "segments":
            looks = [frame.global_look]
            for slot in range(leds - 1):
                found = slot_look(frame, slot)
                looks.append(found[0] if found is not None else _OFF)
        else:
            looks = [frame.look] * leds
        return [line_command(i, look, self._line_rgb(look)) for i, look in enumerate(looks)]

    def _line_rgb(self, look: Look) -> tuple[int, int, int]:
        if look.effect is Effect.OFF:
            return (0, 0, 0)
        # The board applies gamma and animates; it gets the look's colour at
        # the look's brightness under the device's cap.
        color: Color = look.color.scaled(look.brightness * self.options.brightness)
        return color.to_bytes()


_OFF = Look(BLACK, Effect.OFF, brightness=0.0)


def _nonblocking_fd(port: Any) -> int | None:
    """The port's descriptor when writes to it cannot block (a posix tty), else None."""
    fd = getattr(port, "fd", None)
    if not isinstance(fd, int):
        return None  # a URL port (socket://, loop://): always through the thread
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        return None
    return fd if flags & os.O_NONBLOCK else None


def find_port(opts: SerialOptions) -> str:
    """The port to open: ``port`` as given, or the one with matching USB ids.

    :raises DriverUnavailable: when no attached port matches (not plugged in yet).
    """
    if opts.port:
        return opts.port
    from serial.tools import list_ports

    for info in sorted(list_ports.comports(), key=lambda p: p.device):
        if opts.vid is not None and info.vid != opts.vid:
            continue
        if opts.pid is not None and info.pid != opts.pid:
            continue
        if opts.serial_number and info.serial_number != opts.serial_number:
            continue
        return str(info.device)
    raise DriverUnavailable(
        f"no serial port with {opts.where} is attached (see 'agentlight devices')"
    )


def explain_serial_error(err: BaseException, where: str) -> str:
    """One line naming what went wrong with a serial port and the fix."""
    text = str(err) or type(err).__name__
    errno = getattr(err, "errno", None)
    if errno == 13 or "Permission denied" in text:
        return (
            f"no permission to open {where}: add the user to the 'dialout' group "
            "(sudo usermod -aG dialout $USER) and log in again"
        )
    if errno == 2 or "No such file" in text:
        return f"{where} is not there (unplugged?)"
    if errno == 16 or "busy" in text.lower():
        return f"{where} is busy: another program (a serial monitor, ModemManager) has it open"
    return f"serial port {where}: {text}"


__all__ = [
    "COLOR_ORDERS",
    "DEFAULT_REFRESH",
    "SerialLedDriver",
    "SerialOptions",
    "explain_serial_error",
    "find_port",
]
