"""The Stream Deck driver on the streamdeck library's own Dummy transport.

Every model's real device class runs: images are encoded by the library's
PILHelper and chopped into reports by the model's ``set_key_image``; presses
come in as input reports read by the library's reader thread.
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("StreamDeck")
pytest.importorskip("PIL")

from PIL import Image

from bridge.infra.errors import DriverError
from bridge.pipeline.frame import Frame
from bridge.pipeline.inputs import InputEvent
from bridge.pipeline.looks import Effect
from bridge.pipeline.mapping import Mapper, frame_for
from bridge.pipeline.model import AgentStatus, ConnectionState, Session, SessionState, SourceStatus
from bridge.pipeline.slots import SlotMap
from bridge.pipeline.theme import default_theme
from devices.streamdeck.driver import StreamDeckDriver, StreamDeckOptions
from devices.streamdeck.dummy import (
    DummyDeckTransport,
    dummy_device,
    key_report,
)
from devices.streamdeck.render import ellipsize, fit, font, safe, wrap
from tests.conftest import ManualClock, eventually
from tests.frames import make_session

NOW = 1_700_000_000.0

# model: (keys, key size, image format as Pillow names it)
MODELS: dict[str, tuple[int, tuple[int, int], str]] = {
    "mini": (6, (80, 80), "BMP"),
    "original": (15, (72, 72), "BMP"),
    "mk2": (15, (72, 72), "JPEG"),
    "xl": (32, (96, 96), "JPEG"),
    "neo": (8, (96, 96), "JPEG"),
    "plus": (8, (120, 120), "JPEG"),
    "plus_xl": (36, (112, 112), "JPEG"),
    "studio": (32, (80, 120), "JPEG"),
}


def session(
    key: str,
    state: SessionState = SessionState.THINKING,
    *,
    title: str | None = None,
    tool: str | None = None,
    error: str | None = None,
    ago: float | None = 10.0,
    tokens: tuple[int, int] | None = None,
) -> Session:
    since = NOW - ago if ago is not None else 0.0
    return make_session(
        key, state, tool, title=title, since=since, tokens=tokens, error=error, source="pp"
    )


def status(*sessions: Session, connection: ConnectionState = ConnectionState.CONNECTED) -> Any:
    if connection is not ConnectionState.CONNECTED:
        return AgentStatus.fold((SourceStatus("pp", connection, None, "connection refused"),))
    return AgentStatus.fold((SourceStatus.connected("pp", sessions, limit=8),))


class Frames:
    """Frames as the engine builds them: the real mapping and a stable SlotMap."""

    def __init__(self) -> None:
        self.mapper = Mapper(default_theme())
        self.slots = SlotMap(None)

    def __call__(self, st: AgentStatus) -> Frame:
        mapped = self.mapper.map(st, 0.0)
        return frame_for("deck", mapped, 0.0, native=frozenset(Effect), slots=self.slots)


def make_driver(
    model: str = "mk2", clock: ManualClock | None = None, **options: Any
) -> StreamDeckDriver:
    clock = clock or ManualClock(NOW)
    opts = StreamDeckOptions(dummy=True, dummy_model=model, **options)  # type: ignore[arg-type]
    return StreamDeckDriver("deck", opts, clock=clock.wall, mono=clock.mono)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def frames() -> Frames:
    return Frames()


async def open_driver(driver: StreamDeckDriver) -> StreamDeckDriver:
    await driver.open()
    return driver


@asynccontextmanager
async def opened(driver: StreamDeckDriver) -> AsyncIterator[StreamDeckDriver]:
    """``driver`` open for the block, closed after it (however the block ends)."""
    await driver.open()
    try:
        yield driver
    finally:
        await driver.close()


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# -- every model ---------------------------------------------------------------


@pytest.mark.parametrize("model", sorted(MODELS))
async def test_first_frame_writes_every_key_in_the_models_format(
    model: str, clock: ManualClock, frames: Frames
) -> None:
    keys, size, fmt = MODELS[model]
    async with opened(make_driver(model, clock)) as driver:
        before = driver.dummy_device.reports
        await driver.show(frames(status(session("websocket:a"), session("telegram:b"))))
        assert driver.key_writes == keys
        sent = list(driver.sent)
        assert sorted(k for k, _ in sent) == list(range(keys))
        for _, data in sent:
            image = decoded(data)
            assert image.format == fmt
            # Rotated models get the image turned, so compare as a set of sides.
            assert sorted(image.size) == sorted(size)
        # The model's own set_key_image chopped them into reports on the transport.
        assert driver.dummy_device.reports - before >= keys


async def test_neo_and_plus_draw_a_summary_on_their_wide_screen(
    clock: ManualClock, frames: Frames, tmp_path: Path
) -> None:
    for model, size in (("neo", (248, 58)), ("plus", (800, 100))):
        out = tmp_path / model
        async with opened(make_driver(model, clock, preview_dir=str(out))) as driver:
            waiting = session("discord:q", SessionState.WAITING_FOR_USER, title="Delete it?")
            await driver.show(frames(status(session("websocket:a"), waiting)))
            screens = sorted(out.glob("deck-screen-*.png"))
            assert len(screens) == 1
            assert Image.open(screens[0]).size == size


async def test_pedal_shows_nothing_and_reports_presses(clock: ManualClock, frames: Frames) -> None:
    driver = await open_driver(make_driver("pedal", clock))
    events: list[InputEvent] = []
    got = asyncio.Event()

    def sink(event: InputEvent) -> None:
        events.append(event)
        got.set()

    driver.attach(sink, None)
    try:
        assert driver.caps.sessions == 0
        assert driver.caps.refresh is None
        await driver.show(frames(status(session("websocket:a", SessionState.WAITING_FOR_USER))))
        assert driver.key_writes == 0
        driver.dummy_device.queue_report(key_report(driver.deck, {2}))
        await asyncio.wait_for(got.wait(), 5)
        assert events[0].control == "pedal:2"
        assert events[0].pressed
        assert events[0].target.name == "ask_confirm"  # first, next, confirm: right confirms
        # The session in focus rides along, for a source that can answer it.
        assert events[0].target.session is not None
        assert events[0].target.session.key == "websocket:a"
    finally:
        await driver.close()


# -- only what changed -----------------------------------------------------------


async def test_a_change_in_one_session_writes_that_key_only(
    clock: ManualClock, frames: Frames
) -> None:
    async with opened(make_driver("mk2", clock)) as driver:
        a, b, c = session("websocket:a"), session("websocket:b"), session("websocket:c")
        await driver.show(frames(status(a, b, c)))
        first = driver.key_writes
        # Same content again (the engine's refresh): nothing written.
        await driver.show(frames(status(a, b, c)), force=True)
        assert driver.key_writes == first
        # b starts a tool: one session changed, one key written (global unchanged: 3/8 active).
        b2 = session("websocket:b", SessionState.TOOL_RUNNING, tool="bash", ago=0)
        await driver.show(frames(status(a, b2, c)))
        assert driver.key_writes == first + 1
        assert driver.sent[-1][0] == 2  # key 0 global, key 1 slot 0 (a), key 2 slot 1 (b)
        # a session ends: its key goes dark, the global count changes: two writes.
        await driver.show(frames(status(a, b2)))
        assert driver.key_writes == first + 3
        assert {k for k, _ in list(driver.sent)[-2:]} == {0, 3}


async def test_sessions_keep_their_key_when_an_earlier_one_ends(
    clock: ManualClock, frames: Frames
) -> None:
    async with opened(make_driver("mk2", clock)) as driver:
        a, b, c = session("websocket:a"), session("websocket:b"), session("websocket:c")
        await driver.show(frames(status(a, b, c)))
        await driver.show(frames(status(b, c)))
        roles = driver.roles
        assert roles[1].kind == "blank"
        assert roles[2].session is not None and roles[2].session.key == "websocket:b"
        assert roles[3].session is not None and roles[3].session.key == "websocket:c"


async def test_time_in_state_ticks_on_refresh(clock: ManualClock, frames: Frames) -> None:
    async with opened(make_driver("mk2", clock)) as driver:
        frame = frames(status(session("websocket:a", ago=5)))
        await driver.show(frame)
        first = driver.key_writes
        clock.t = 1.0
        await driver.show(frame, force=True)  # the engine's 1 s refresh
        assert driver.key_writes == first + 1  # "5s" became "6s" on key 1
        assert driver.sent[-1][0] == 1


async def test_past_ten_minutes_the_time_ticks_by_the_minute(
    clock: ManualClock, frames: Frames
) -> None:
    async with opened(make_driver("mk2", clock)) as driver:
        frame = frames(status(session("websocket:a", ago=12 * 60 + 5)))
        await driver.show(frame)
        first = driver.key_writes
        clock.t = 1.0
        await driver.show(frame, force=True)  # "12m" still: the key is not written
        assert driver.key_writes == first
        clock.t = 60.0
        await driver.show(frame, force=True)  # "13m"
        assert driver.key_writes == first + 1
        assert driver.sent[-1][0] == 1


async def test_waiting_key_blinks_between_two_cached_images(
    clock: ManualClock, frames: Frames
) -> None:
    async with opened(make_driver("mk2", clock)) as driver:
        # since = 0: no ticking time, so only the blink changes the key.
        waiting = session("websocket:w", SessionState.WAITING_FOR_USER, title="Proceed?", ago=None)
        frame = frames(status(session("websocket:a", ago=None), waiting))
        await driver.show(frame)
        images = []
        for step in range(1, 5):
            clock.t = float(step)
            before = driver.key_writes
            await driver.show(frame, force=True)
            writes = list(driver.sent)[-(driver.key_writes - before) :]
            assert [k for k, _ in writes] == [2]  # only the waiting key
            images.append(writes[0][1])
        assert images[0] == images[2] and images[1] == images[3]
        assert images[0] != images[1]
        cached = len(driver._cache)
        clock.t = 5.0
        await driver.show(frame, force=True)
        assert len(driver._cache) == cached  # no new drawing for a blink


# -- paging ----------------------------------------------------------------------


async def test_more_sessions_than_keys_page(clock: ManualClock, frames: Frames) -> None:
    async with opened(make_driver("mini", clock)) as driver:
        many = [session(f"websocket:s{i}") for i in range(9)]
        many[7] = session("websocket:s7", SessionState.WAITING_FOR_USER)
        await driver.show(frames(status(*many)))
        # Mini: global, 4 sessions, the page key.
        roles = driver.roles
        kinds = [r.kind for r in roles]
        assert kinds == ["global", "session", "session", "session", "session", "page"]
        assert roles[1].session is not None and roles[1].session.key == "websocket:s0"
        driver.attach(lambda e: None, None)
        event = InputEvent("deck", "key:5", True, _target(driver, 5))
        await driver.handle_input(event)
        await driver.show(frames(status(*many)), force=True)
        assert driver.page == 1
        roles = driver.roles
        assert roles[1].session is not None and roles[1].session.key == "websocket:s4"
        # Slot 8 is on page 3: keys past the last session stay dark.
        await driver.handle_input(event)
        await driver.show(frames(status(*many)), force=True)
        assert driver.page == 2
        assert [r.kind for r in driver.roles][2:5] == ["blank", "blank", "blank"]
        await driver.handle_input(event)
        await driver.show(frames(status(*many)), force=True)
        assert driver.page == 0  # wraps around


def _target(driver: StreamDeckDriver, key: int) -> Any:
    from bridge.pipeline.inputs import Target

    role = driver.roles[key]
    action = driver.action_for(f"key:{key}", role)
    if role.kind == "session":
        return Target("session", role.session, action)
    if role.kind == "global":
        return Target("global", None, action)
    return Target("control", None, action)


# -- presses -----------------------------------------------------------------------


async def test_presses_come_from_the_library_thread_through_the_engine_door(
    clock: ManualClock, frames: Frames
) -> None:
    driver = await open_driver(make_driver("mk2", clock))
    events: list[InputEvent] = []
    redraws: list[int] = []
    got = asyncio.Event()

    def sink(event: InputEvent) -> None:
        events.append(event)
        if len(events) >= 2:
            got.set()

    driver.attach(sink, lambda: redraws.append(1))
    try:
        frame = frames(status(session("websocket:a", title="Refactor the parser")))
        await driver.show(frame)
        device = driver.dummy_device
        device.queue_report(key_report(driver.deck, {1}))
        device.queue_report(key_report(driver.deck, set()))
        await asyncio.wait_for(got.wait(), 5)
        press, release = events
        assert (press.control, press.pressed, release.pressed) == ("key:1", True, False)
        assert press.target.kind == "session"
        assert press.target.session is not None and press.target.session.key == "websocket:a"
        assert press.target.name == "details"
        # The engine hands it back: details open over the session keys.
        await driver.handle_input(press)
        await driver.handle_input(release)
        assert redraws
        before = driver.key_writes
        await driver.show(frame, force=True)
        assert driver.key_writes > before
        assert [r.kind for r in driver.roles][1:4] == ["session"] * 3
        # They close by themselves after details_seconds.
        clock.t = 6.0
        await driver.show(frame, force=True)
        assert [r.kind for r in driver.roles][1:3] == ["session", "blank"]
    finally:
        await driver.close()


async def test_global_key_cycles_brightness(clock: ManualClock, frames: Frames) -> None:
    async with opened(make_driver("mk2", clock, brightness=60)) as driver:
        frame = frames(status())
        await driver.show(frame)
        device = driver.dummy_device
        features = len(device.feature_reports)
        driver.attach(lambda e: None, None)
        press = InputEvent("deck", "key:0", True, _target(driver, 0))
        assert press.target.name == "brightness"
        await driver.handle_input(press)
        await driver.show(frame, force=True)
        # MK.2 brightness report: 0x03 0x08 <percent>.
        new = device.feature_reports[features:]
        assert any(r[:3] == bytes([0x03, 0x08, 100]) for r in new)
        await driver.handle_input(press)
        await driver.show(frame, force=True)
        assert device.feature_reports[-1][:3] == bytes([0x03, 0x08, 10])


async def test_actions_are_configurable_per_control(clock: ManualClock, frames: Frames) -> None:
    driver = make_driver("mk2", clock, actions={"key:0": "approve", "key:14": "page_prev"})
    await driver.open()
    try:
        await driver.show(frames(status(session("websocket:a"))))
        roles = driver.roles
        assert driver.action_for("key:0", roles[0]) == "approve"
        assert driver.action_for("key:14", roles[14]) == "page_prev"
        assert driver.action_for("key:1", roles[1]) == "details"
    finally:
        await driver.close()


async def test_deck_dims_when_idle_and_wakes_on_a_press(clock: ManualClock, frames: Frames) -> None:
    async with opened(make_driver("mk2", clock, dim_after=30, dim_brightness=5)) as driver:
        frame = frames(status(session("websocket:a", ago=0)))
        await driver.show(frame)
        device = driver.dummy_device
        clock.t = 31.0
        await driver.show(frame, force=True)
        assert device.feature_reports[-1][:3] == bytes([0x03, 0x08, 5])
        driver.attach(lambda e: None, None)
        await driver.handle_input(InputEvent("deck", "key:3", True, _target(driver, 3)))
        await driver.show(frame, force=True)
        assert device.feature_reports[-1][:3] == bytes([0x03, 0x08, 60])


# -- unplug and replug -----------------------------------------------------------------


async def test_unplugged_deck_fails_then_comes_back_and_redraws(
    clock: ManualClock, frames: Frames
) -> None:
    driver = await open_driver(make_driver("mk2", clock))
    frame = frames(status(session("websocket:a")))
    await driver.show(frame)
    device = driver.dummy_device
    device.unplug()
    clock.t = 1.0
    with pytest.raises(DriverError, match=r"unplugged|not answering|write failed"):
        await driver.show(frame, force=True)
    # What the engine does after a failed show: close without blanking, forget.
    await driver.close(blank=False)
    with pytest.raises(DriverError, match="no Stream Deck found"):
        await driver.open()
    device.replug()
    await driver.open()
    before = driver.key_writes
    await driver.show(frame)
    assert driver.key_writes - before == 15  # every key drawn again
    await driver.close()


async def test_engine_brings_an_unplugged_deck_back(frames: Frames) -> None:
    from bridge.engine import Device, Engine

    driver = StreamDeckDriver("deck", StreamDeckOptions(dummy=True))
    engine = Engine([Device(driver, "session")], default_theme(), device_retry=(0.01, 0.05))
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([], stop))
    try:
        await asyncio.wait_for(engine.ready.wait(), 5)
        engine.publish(SourceStatus.connected("pp", (session("websocket:a"),)))
        await eventually(lambda: driver.roles and driver.roles[1].kind == "session")
        driver.dummy_device.unplug()
        await eventually(lambda: not driver.health.ok)
        driver.dummy_device.replug()
        await eventually(lambda: driver.health.ok and driver.is_open and driver.key_writes >= 15)
        assert driver.roles[1].kind == "session"
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert not driver.is_open


async def test_a_press_pages_through_the_engine() -> None:
    from bridge.engine import Device, Engine

    driver = StreamDeckDriver("deck", StreamDeckOptions(dummy=True, dummy_model="mini"))
    engine = Engine([Device(driver, "session")], default_theme())
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([], stop))
    try:
        await asyncio.wait_for(engine.ready.wait(), 5)
        many = tuple(session(f"websocket:s{i}") for i in range(6))
        engine.publish(SourceStatus.connected("pp", many))
        await eventually(lambda: driver.roles[5].kind == "page")
        device = driver.dummy_device
        device.queue_report(key_report(driver.deck, {5}))  # the page key, down...
        device.queue_report(key_report(driver.deck, set()))  # ...and up
        await eventually(lambda: driver.page == 1)
        # The engine redrew at once (invalidate): page 2 shows slots 4 and 5.
        await eventually(lambda: driver.roles[1].session is not None
                         and driver.roles[1].session.key == "websocket:s4")  # fmt: skip
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_reopen_after_a_forget_takes_the_same_deck_again(
    clock: ManualClock, frames: Frames
) -> None:
    driver = await open_driver(make_driver("mk2", clock))
    driver.forget()  # what the engine does when a call hangs: no close
    await driver.open()
    try:
        await driver.show(frames(status(session("websocket:a"))))
        assert driver.key_writes == 15
    finally:
        await driver.close()


# -- several decks, serials, exit ----------------------------------------------------------


async def test_decks_by_serial_and_first_free(clock: ManualClock, frames: Frames) -> None:
    transport = DummyDeckTransport([dummy_device("mk2", "AAA"), dummy_device("mini", "BBB")])
    by_serial = StreamDeckDriver("b", StreamDeckOptions(serial="BBB"), transport=transport)
    first = StreamDeckDriver("a", StreamDeckOptions(), transport=transport)
    third = StreamDeckDriver("c", StreamDeckOptions(), transport=transport)
    await by_serial.open()
    await first.open()
    try:
        assert type(by_serial.deck).__name__ == "StreamDeckMini"
        assert type(first.deck).__name__ == "StreamDeckOriginalV2"
        with pytest.raises(DriverError, match="already used"):
            await third.open()
        missing = StreamDeckDriver("d", StreamDeckOptions(serial="ZZZ"), transport=transport)
        with pytest.raises(DriverError, match="serial 'ZZZ'"):
            await missing.open()
    finally:
        await by_serial.close()
        await first.close()


async def test_exit_resets_or_shows_the_exit_image(
    clock: ManualClock, frames: Frames, tmp_path: Path
) -> None:
    driver = await open_driver(make_driver("mk2", clock))
    await driver.show(frames(status()))
    device = driver.dummy_device
    await driver.close(blank=True)
    assert device.feature_reports[-1][:2] == bytes([0x03, 0x02])  # the MK.2 reset report
    picture = tmp_path / "bye.png"
    Image.new("RGB", (300, 200), (200, 30, 30)).save(picture)
    driver = await open_driver(make_driver("mk2", clock, exit_image=str(picture)))
    device = driver.dummy_device
    reports = device.reports
    await driver.close(blank=True)
    assert device.reports - reports >= 15


# -- text -------------------------------------------------------------------------


def test_text_wraps_shrinks_and_ends_with_an_ellipsis() -> None:
    width = 60.0
    lines, cut = wrap("Refactor the configuration loader module", 12, width, 2)
    assert cut and len(lines) == 2
    assert lines[-1].endswith("…")
    assert all(font(12).getlength(line) <= width for line in lines)
    lines, cut = wrap("Supercalifragilisticexpialidocious", 12, width, 3)
    assert all(font(12).getlength(line) <= width for line in lines)
    assert "".join(lines).replace("…", "").startswith("Supercali")
    size, lines = fit("Answering", [20, 16, 12], 60, 1)
    assert lines == ["Answering"] and size < 20
    assert font(size).getlength("Answering") <= 60
    bigger = {12: 16, 16: 20}[size]
    assert font(bigger).getlength("Answering") > 60
    assert ellipsize("Waiting for you", 14, 40).endswith("…")
    assert font(14).getlength(ellipsize("Waiting for you", 14, 40)) <= 40


def test_server_text_cannot_drive_the_key() -> None:
    text = safe("ti\x1b[2Jtle\u202e\nnext\u200b")
    assert "\x1b" not in text and "\u202e" not in text and "\n" not in text
    assert "\u200b" not in text


async def test_long_titles_fit_on_every_key_size(clock: ManualClock, frames: Frames) -> None:
    title = "A very long session title that never fits on one small key " * 3
    for model in ("mini", "mk2", "plus"):
        async with opened(make_driver(model, clock)) as driver:
            await driver.show(frames(status(session("websocket:a", title=title,
                                                    tokens=(123_456, 7_890)))))  # fmt: skip
            assert driver.key_writes == MODELS[model][0]


# -- preview -------------------------------------------------------------------------------


async def test_preview_dir_gets_every_image_sent(
    clock: ManualClock, frames: Frames, tmp_path: Path
) -> None:
    async with opened(make_driver("mini", clock, preview_dir=str(tmp_path))) as driver:
        await driver.show(frames(status(session("websocket:a"))))
        files = _png_names(tmp_path)
        assert files[0] == "deck-key00-000001.png"
        assert len(files) == 6
        assert Image.open(tmp_path / files[1]).size == (80, 80)


def _png_names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.png"))


def test_preview_command_draws_each_state(tmp_path: Path) -> None:
    config = tmp_path / "deck.toml"
    config.write_text(
        '[[sources]]\ntype = "pocketpaw"\nurl = "http://127.0.0.1:8888"\n\n'
        '[[devices]]\ntype = "streamdeck"\nname = "desk"\ndummy = true\ndummy_model = "neo"\n'
    )
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "preview", "-c", str(config), "--out", str(out),
         "--zoom", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = {p.name for p in out.glob("*.png")}
    for state in ("idle", "working", "waiting", "error", "paging", "details", "disconnected"):
        assert f"desk-{state}.png" in names
    image = Image.open(out / "desk-working.png")
    # Neo: 4 columns of 96 px keys, and the 248x58 info screen below 2 rows.
    assert image.width > 4 * 96 and image.height > 2 * 96 + 58


# -- one clear line naming the fix ------------------------------------------------------------


async def test_missing_hidapi_names_the_package_to_install() -> None:
    import ctypes.util

    if ctypes.util.find_library("hidapi-libusb"):
        pytest.skip("hidapi is installed here")
    driver = StreamDeckDriver("deck", StreamDeckOptions())
    with pytest.raises(DriverError) as caught:
        await driver.open()
    message = str(caught.value)
    assert "hidapi" in message and "libhidapi-libusb0" in message
    assert "\n" not in message


def test_a_deck_without_permission_names_the_udev_rule() -> None:
    from devices.streamdeck.driver import _open_failure

    # hidapi-libusb's path for bus 0x0fff, address 0x0fff: a node nobody can open.
    message = _open_failure("0fff:0fff:00", OSError("Could not open HID device."))
    if sys.platform.startswith("linux"):
        assert "70-agentlight-streamdeck.rules" in message
        assert "udevadm" in message
    assert "\n" not in message


def test_udev_rule_covers_every_deck_the_library_knows() -> None:
    from StreamDeck.ProductIDs import USBProductIDs

    rule = (Path(__file__).parent.parent / "systemd/70-agentlight-streamdeck.rules").read_text()
    ids = {f"{v:04x}" for k, v in vars(USBProductIDs).items() if k.startswith("USB_PID")}
    assert ids and all(i in rule for i in ids)
    assert 'ATTR{idVendor}=="0fd9"' in rule


def test_the_example_config_documents_a_valid_streamdeck() -> None:
    import tomllib

    from bridge.infra.config import parse_config

    text = (Path(__file__).parent.parent / "config.example.toml").read_text()
    start = text.index('# type = "streamdeck"')
    block = []
    for line in text[start:].splitlines():
        if not line.startswith("#"):
            break
        # Option lines read "# key = value"; the others are prose.
        if re.match(r"# [a-z_]+ = ", line) and not line.startswith("# exit_image"):
            block.append(line[2:])
    table = tomllib.loads("\n".join(block))
    sources = [{"type": "pocketpaw", "url": "http://127.0.0.1:8888"}]
    config = parse_config({"devices": [table], "sources": sources}, file="example")
    options = config.devices[0].options
    assert isinstance(options, StreamDeckOptions)
    assert options.actions == {"pedal:1": "details"}


async def test_an_idle_deck_refreshes_slowly_and_ticks_again_with_a_session(
    clock: ManualClock, frames: Frames
) -> None:
    driver = await open_driver(make_driver("mk2", clock))
    redraws: list[int] = []
    driver.attach(lambda e: None, lambda: redraws.append(1))
    try:
        assert driver.caps.refresh == 1.0
        await driver.show(frames(status()))
        assert driver.caps.refresh == StreamDeckDriver.IDLE_REFRESH  # nothing ticks
        assert not redraws
        await driver.show(frames(status(session("websocket:a"))))
        assert driver.caps.refresh == 1.0  # its clock ticks
        assert redraws  # the engine is woken to take the new period
    finally:
        await driver.close()
