"""Tests of the drivers that need no hardware: mock, record and terminal."""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import os
import re
import select
import struct
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.infra.errors import DriverError, DriverUnavailable
from bridge.pipeline.looks import Effect
from devices.mock import MockDriver, MockOptions
from devices.record import RecordDriver, RecordOptions
from devices.terminal import TerminalDriver, TerminalOptions
from tests.conftest import FakeTTY
from tests.frames import make_frame, make_look, make_session

TWO_SESSIONS = [("websocket:abc", "thinking"), ("discord:x", "tool_running", "bash")]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake terminals have no size; make the fallback roomy and the same everywhere."""
    monkeypatch.setenv("COLUMNS", "200")


# -- mock ------------------------------------------------------------------------


async def test_mock_records_calls_frames_and_close() -> None:
    mock = MockDriver("m")
    first, second = make_frame("idle"), make_frame("active", TWO_SESSIONS)
    await mock.open()
    assert await mock.show(first)
    assert not await mock.show(make_frame("idle"))  # equal: never reaches the driver
    assert await mock.show(second)
    await mock.close(blank=False)

    assert mock.calls == ["open", "show", "show", "close"]
    assert mock.frames == [first, second]
    assert mock.shown[0][0] <= mock.shown[1][0]
    assert mock.closed_blank is False


async def test_mock_closed_blank_is_none_until_closed() -> None:
    mock = MockDriver("m")
    async with mock:
        assert mock.closed_blank is None
    assert mock.closed_blank is True


async def test_mock_fail_open_fails_the_first_n_opens() -> None:
    mock = MockDriver("m", MockOptions(fail_open=2))
    for _ in range(2):
        with pytest.raises(DriverUnavailable, match="injected open failure"):
            await mock.open()
        assert not mock.is_open
        assert not mock.health.ok
    await mock.open()
    assert mock.is_open
    assert mock.calls == ["open", "open", "open"]


async def test_mock_fail_show_fails_the_first_n_shows() -> None:
    mock = MockDriver("m", MockOptions(fail_show=1))
    await mock.open()
    frame = make_frame("idle")
    with pytest.raises(DriverUnavailable):
        await mock.show(frame)
    assert not mock.health.ok
    assert mock.shown == []
    assert await mock.show(frame)
    assert mock.health.ok
    assert mock.frames == [frame]
    assert mock.calls == ["open", "show", "show"]


async def test_mock_fail_show_minus_one_always_fails() -> None:
    mock = MockDriver("m", MockOptions(fail_show=-1))
    await mock.open()
    for state in ("idle", "active", "idle", "degraded"):
        with pytest.raises(DriverUnavailable):
            await mock.show(make_frame(state))
    assert mock.shown == []
    assert mock.show_attempts == 4


async def test_mock_fault_error_is_wrapped_as_a_plain_driver_error() -> None:
    mock = MockDriver("m", MockOptions(fail_show=1, fault="error"))
    await mock.open()
    with pytest.raises(DriverError) as caught:
        await mock.show(make_frame())
    assert not isinstance(caught.value, DriverUnavailable)
    assert isinstance(caught.value.__cause__, RuntimeError)


async def test_mock_hang_show_never_returns_until_cancelled() -> None:
    mock = MockDriver("m", MockOptions(hang_show=True))
    await mock.open()
    task = asyncio.create_task(mock.show(make_frame()))
    await asyncio.sleep(0)  # lets the task run up to where it hangs
    assert mock.calls == ["open", "show"]
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert mock.shown == []


def test_mock_fps_and_write_timeout_are_per_instance() -> None:
    fast = MockDriver("fast", MockOptions(fps=120.0, write_timeout=0.05))
    plain = MockDriver("plain")
    assert (fast.caps.fps, fast.caps.write_timeout) == (120.0, 0.05)
    assert (plain.caps.fps, plain.caps.write_timeout) == (MockDriver.CAPS.fps, 2.0) == (30.0, 2.0)


@pytest.mark.parametrize(
    "bad", [{"fail_open": -1}, {"fail_show": -2}, {"fps": 0.0}, {"write_timeout": 0.0}]
)
def test_mock_options_are_checked(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        MockOptions(**bad)  # type: ignore[arg-type]


async def test_mock_wait_for_finds_a_frame_already_shown() -> None:
    mock = MockDriver("m")
    await mock.open()
    await mock.show(make_frame("connecting"))
    idle = make_frame("idle")
    await mock.show(idle)
    await mock.show(make_frame("active"))
    assert await mock.wait_for(lambda f: f.state == "idle") is idle


async def test_mock_wait_for_waits_for_a_future_frame() -> None:
    mock = MockDriver("m")
    await mock.open()
    await mock.show(make_frame("idle"))
    waiter = asyncio.create_task(mock.wait_for(lambda f: f.state == "idle", start=len(mock.shown)))
    other = asyncio.create_task(mock.wait_for(lambda f: f.state == "active"))
    await asyncio.sleep(0)
    assert not waiter.done()
    active, idle_again = make_frame("active"), make_frame("idle", TWO_SESSIONS)
    await mock.show(active)
    await mock.show(idle_again)
    assert await waiter is idle_again
    assert await other is active


async def test_mock_wait_for_times_out_listing_what_was_shown() -> None:
    mock = MockDriver("m")
    await mock.open()
    await mock.show(make_frame("active", [("websocket:abc", "thinking")]))
    with pytest.raises(TimeoutError, match=r"(?s)no matching frame.*active #ff8000 solid"):
        await mock.wait_for(lambda f: f.state == "idle", timeout=0)


async def test_mock_assert_looks_collapses_repeats_and_compares_named_aspects() -> None:
    mock = MockDriver("m")
    await mock.open()
    pulse = make_look("#00aaff", "pulse")
    await mock.show(make_frame("connecting", color="#0000ff", effect="pulse"))
    # Animation samples of one look: one entry.
    for level in ("#00aaff", "#005580", "#001a26"):
        await mock.show(make_frame("active", look=pulse, sampled=level))
    await mock.show(make_frame("active", color="#ff8000"))
    await mock.show(make_frame("idle", color="#00ff00"))

    mock.assert_looks("connecting", "active", "idle")
    mock.assert_looks("#0000ff", "#00aaff", "#ff8000", "lime")
    mock.assert_looks(("connecting", "pulse"), ("active", pulse), ("active", Effect.SOLID), "idle")


async def test_mock_assert_looks_failure_shows_both_sequences() -> None:
    mock = MockDriver("m")
    await mock.open()
    await mock.show(make_frame("connecting"))
    await mock.show(make_frame("active"))
    with pytest.raises(AssertionError) as caught:
        mock.assert_looks("connecting", "idle", "active")
    message = str(caught.value)
    assert "compared on state" in message
    lines = message.splitlines()
    assert lines[2].split() == ["0", "connecting", "connecting"]
    assert lines[3].split() == ["1", "idle", "!", "active"]
    assert lines[4].split() == ["2", "active", "!", "-"]


def test_mock_assert_looks_on_nothing_shown() -> None:
    mock = MockDriver("m")
    mock.assert_looks()
    with pytest.raises(AssertionError):
        mock.assert_looks("idle")


# -- record ----------------------------------------------------------------------


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> float:
    now = 1_700_000_000.25
    monkeypatch.setattr("devices.record.time.time", lambda: now)
    return now


def read_lines(path: Path) -> list[str]:
    """The change lines (not the final line a close writes; see the test for it)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if '"end": true' not in line]


async def test_record_close_writes_a_final_line_for_the_look_it_leaves(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    rec = RecordDriver("d", RecordOptions(path=str(path)))
    await rec.open()
    await rec.show(make_frame("active", [("websocket:abc", "tool_running", "bash")], "#ff8000"))
    await rec.close(blank=True)  # left dark
    await rec.open()
    await rec.show(make_frame("idle", [], "#00ff40"))
    await rec.close(blank=False)  # left showing what it showed (on_exit)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line.get("end", False) for line in lines] == [False, True, False, True]
    dark, kept = lines[1], lines[3]
    assert dark["look"]["color"] == "#000000"
    assert dark["look"]["effect"] == "off"
    assert dark["sessions"][0]["tool"] == "bash"  # what was going on when it went dark
    assert kept["look"]["color"] == "#00ff40"


async def test_record_line_format(tmp_path: Path, fixed_time: float) -> None:
    path = tmp_path / "rec.jsonl"
    rec = RecordDriver("desk", RecordOptions(path=str(path)))
    await rec.open()
    frame = make_frame(
        "active",
        [make_session("websocket:abc", "tool_running", "bash", source="pp")],
        color="#ff8000",
        effect="pulse",
        device="desk",
        label="busy",
        period=2.0,
        focus="websocket:abc",
    )
    await rec.show(frame)
    # Flushed per line: readable before close.
    assert read_lines(path) == [
        '{"t": 1700000000.25, "device": "desk", "version": 1, "global": "active", '
        '"look": {"color": "#ff8000", "effect": "pulse", "brightness": 1.0, "period": 2.0, '
        '"label": "busy"}, '
        '"focus": {"source": "pp", "key": "websocket:abc"}, '
        '"sessions": [{"source": "pp", "key": "websocket:abc", "id": "abc", '
        '"channel": "websocket", "title": null, "state": "tool_running", '
        '"raw_state": "tool_running", "tool": "bash", "seconds": null, "tokens": null, '
        '"usage": [], "error": null, "steps": null, "parent": null, "extra": {}, '
        '"ask": null, "stoppable": false, '
        '"look": {"color": "#ff8000", "effect": "solid"}}], '
        '"sources": []}'
    ]
    await rec.close()


async def test_record_minimal_fields(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    async with RecordDriver("d", RecordOptions(path=str(path))) as rec:
        await rec.show(make_frame("idle", [("websocket:abc", "thinking")], color="#00ff00"))
    (line,) = read_lines(path)
    data = json.loads(line)
    assert list(data) == [
        "t",
        "device",
        "version",
        "global",
        "look",
        "focus",
        "sessions",
        "sources",
    ]
    assert isinstance(data["t"], float)
    assert data["device"] == "d"
    assert data["global"] == "idle"
    assert data["look"]["color"] == "#00ff00"
    assert data["look"]["effect"] == "solid"
    assert [{k: s[k] for k in ("key", "state", "tool")} for s in data["sessions"]] == [
        {"key": "websocket:abc", "state": "thinking", "tool": None}
    ]


async def test_record_writes_one_line_per_change(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    rec = RecordDriver("d", RecordOptions(path=str(path)))
    await rec.open()
    base = [make_session("websocket:abc", "thinking", tokens=(10, 5), since=100.0)]
    await rec.show(make_frame("active", base))
    # None of these change what the device shows:
    await rec.show(make_frame("active", base, t=99.0))  # equal frame
    more_tokens = [make_session("websocket:abc", "thinking", tokens=(900, 700), since=100.0)]
    await rec.show(make_frame("active", more_tokens))
    await rec.show(make_frame("active", base, sampled="#402000"))  # an animation sample
    later = [make_session("websocket:abc", "thinking", tokens=(10, 5), since=250.0)]
    await rec.show(make_frame("active", later))
    assert len(read_lines(path)) == 1

    await rec.show(make_frame("active", [("websocket:abc", "tool_running", "bash")]))
    await rec.show(make_frame("active", [("websocket:abc", "tool_running", "grep")]))
    await rec.show(make_frame("active", [("websocket:abc", "tool_running", "grep")], "#ff0000"))
    await rec.show(make_frame("idle", [("websocket:abc", "tool_running", "grep")], "#ff0000"))
    await rec.show(make_frame("idle", [], "#ff0000"))
    await rec.close()

    records = [json.loads(line) for line in read_lines(path)]
    assert len(records) == 6
    assert [r["sessions"][0]["tool"] if r["sessions"] else "-" for r in records] == [
        None,
        "bash",
        "grep",
        "grep",
        "grep",
        "-",
    ]
    assert [r["global"] for r in records] == ["active"] * 4 + ["idle"] * 2


async def test_record_appends_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "rec.jsonl"
    rec = RecordDriver("d", RecordOptions(path=str(path)))
    frame = make_frame("idle")
    await rec.open()
    await rec.show(frame)
    await rec.close()
    await rec.open()
    await rec.show(frame)  # a new run records where it starts
    await rec.show(make_frame("active"))
    await rec.close()
    assert [json.loads(line)["global"] for line in read_lines(path)] == [
        "idle",
        "idle",
        "active",
    ]


async def test_record_reopen_after_forget_closes_the_stale_file(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    rec = RecordDriver("d", RecordOptions(path=str(path)))
    await rec.open()
    await rec.show(make_frame("idle"))
    stale = rec._file
    rec.forget()  # what the engine does after a hung write
    await rec.open()
    assert stale is not None and stale.closed
    await rec.show(make_frame("idle"))
    await rec.close()
    assert len(read_lines(path)) == 2


def test_record_declares_native_effects_and_sessions() -> None:
    assert frozenset(Effect) == RecordDriver("d").caps.native_effects
    assert RecordDriver("d").caps.sessions is None  # every session, each with a slot
    assert RecordDriver.TYPE == "record"
    assert RecordDriver("d").path == Path("agentlight-record.jsonl")


async def test_record_show_after_close_fails(tmp_path: Path) -> None:
    rec = RecordDriver("d", RecordOptions(path=str(tmp_path / "r.jsonl")))
    await rec.open()
    await rec.close()
    with pytest.raises(DriverError):
        await rec.show(make_frame())


# -- terminal --------------------------------------------------------------------


@pytest.fixture
def color_term(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLORTERM", "truecolor")


# The most urgent session in words, which one it is, then the others.
LINE = "● Running bash — discord x · websocket abc thinking"
HEAD = "Running bash — discord x"
ORANGE = "\x1b[38;2;255;128;0m"


async def test_terminal_pipe_prints_plain_lines_per_change(color_term: None) -> None:
    out = io.StringIO()
    term = TerminalDriver("t", stream=out)
    await term.open()
    assert not term.is_tty
    pulse = make_look("#ff8000", "pulse")
    for sampled in ("#ff8000", "#804000", "#140a00"):  # animation ticks
        await term.show(make_frame("active", TWO_SESSIONS, look=pulse, sampled=sampled))
    await term.show(make_frame("idle"))
    await term.close()
    assert out.getvalue() == f"{LINE}\n● Idle\n"


async def test_terminal_pipe_color_always_uses_the_look_color(color_term: None) -> None:
    out = io.StringIO()
    term = TerminalDriver("t", TerminalOptions(color="always"), stream=out)
    await term.open()
    await term.show(make_frame("active", TWO_SESSIONS, effect="pulse", sampled="#100800"))
    await term.show(make_frame("active", TWO_SESSIONS, effect="pulse", sampled="#402000"))
    await term.close()
    tail = LINE[len("● " + HEAD) :]
    assert out.getvalue() == f"{ORANGE}●\x1b[0m {ORANGE}{HEAD}\x1b[0m{tail}\n"


async def test_terminal_tty_redraws_in_place_with_sampled_color(color_term: None) -> None:
    out = FakeTTY()
    term = TerminalDriver("t", stream=out)
    await term.open()
    assert term.is_tty
    pulse = make_look("#ff8000", "pulse")
    await term.show(make_frame("active", TWO_SESSIONS, look=pulse, sampled="#ff8000"))
    await term.show(make_frame("active", TWO_SESSIONS, look=pulse, sampled="#804000"))
    written = out.getvalue()
    await term.close(blank=False)
    # No duration: the sessions do not say since when. The label keeps the look's colour.
    rest = f" {ORANGE}{HEAD}\x1b[0m{LINE[len('● ' + HEAD) :]}"
    assert written == (f"\r{ORANGE}●\x1b[0m{rest}\x1b[K\r\x1b[38;2;128;64;0m●\x1b[0m{rest}\x1b[K")
    # Not blank: the last state stays and the prompt starts on the next line.
    assert out.getvalue() == written + "\n"


async def test_terminal_tty_dark_sample_shows_a_hollow_dot(color_term: None) -> None:
    """Only the dot blinks: in the dark half the label keeps the look's colour."""
    out = FakeTTY()
    term = TerminalDriver("t", stream=out)
    await term.open()
    await term.show(make_frame("degraded", color="#ff0000", effect="blink", sampled="#000000"))
    dark = out.getvalue()
    await term.show(make_frame("degraded", color="#ff0000", effect="blink", sampled="#ff0000"))
    lit = out.getvalue()[len(dark) :]
    assert dark == "\r○ \x1b[38;2;255;0;0mA session failed\x1b[0m\x1b[K"
    assert lit.endswith(" \x1b[38;2;255;0;0mA session failed\x1b[0m\x1b[K")  # the same label
    await term.close()


@pytest.mark.parametrize(
    ("color", "no_color", "colored"),
    [
        ("auto", None, True),
        ("auto", "1", False),
        ("never", None, False),
        ("always", "1", True),
    ],
)
async def test_terminal_tty_color_modes(
    monkeypatch: pytest.MonkeyPatch,
    color_term: None,
    color: str,
    no_color: str | None,
    colored: bool,
) -> None:
    if no_color is not None:
        monkeypatch.setenv("NO_COLOR", no_color)
    out = FakeTTY()
    term = TerminalDriver("t", TerminalOptions(color=color), stream=out)  # type: ignore[arg-type]
    await term.open()
    await term.show(make_frame("idle", color="#ff8000"))
    await term.close(blank=False)
    text = out.getvalue()
    assert text.startswith("\r")  # redrawn in place either way
    assert (ORANGE in text) is colored
    assert "● Idle" in text.replace(f"{ORANGE}●\x1b[0m", "●").replace(f"{ORANGE}Idle", "Idle")


async def test_terminal_same_render_is_not_rewritten() -> None:
    out = FakeTTY()
    term = TerminalDriver("t", TerminalOptions(color="never"), stream=out)
    await term.open()
    pulse = make_look("#ff8000", "pulse")
    await term.show(make_frame("active", look=pulse, sampled="#ff8000"))
    await term.show(make_frame("active", look=pulse, sampled="#804000"))  # same text uncolored
    assert out.getvalue() == "\r● Working\x1b[K"
    await term.close()


async def test_terminal_truncates_to_width() -> None:
    out = io.StringIO()
    term = TerminalDriver("t", TerminalOptions(width=20), stream=out)
    await term.open()
    await term.show(make_frame("active", TWO_SESSIONS))
    await term.show(make_frame("idle"))
    await term.close()
    first, second = out.getvalue().splitlines()
    assert first == LINE[:19] + "…"
    assert len(first) == 20
    assert second == "● Idle"


async def test_terminal_pipe_is_not_cut_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "10")
    out = io.StringIO()
    term = TerminalDriver("t", stream=out)
    await term.open()
    await term.show(make_frame("active", TWO_SESSIONS))
    await term.close()
    assert out.getvalue() == LINE + "\n"


@pytest.fixture
def pty_stream() -> Iterator[tuple[io.TextIOWrapper, int]]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 30, 0, 0))
    stream = open(slave, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        yield stream, master
    finally:
        stream.close()
        os.close(master)


def read_pty(master: int) -> str:
    data = b""
    while select.select([master], [], [], 1.0)[0]:
        data += os.read(master, 4096)
        if not select.select([master], [], [], 0)[0]:
            break
    return data.decode("utf-8")


async def test_terminal_on_a_pty_fits_the_terminal_and_clears_on_close(
    pty_stream: tuple[io.TextIOWrapper, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stream, master = pty_stream
    term = TerminalDriver("t", stream=stream)
    await term.open()
    await term.show(make_frame("active", TWO_SESSIONS))
    # 30 columns, one kept free so the terminal does not wrap.
    assert read_pty(master) == "\r" + LINE[:28] + "…\x1b[K"
    await term.close()
    assert read_pty(master) == "\r\x1b[K"


async def test_terminal_close_blank_clears_the_line_and_pipe_close_adds_nothing() -> None:
    tty, pipe = FakeTTY(), io.StringIO()
    for out in (tty, pipe):
        term = TerminalDriver("t", TerminalOptions(color="never"), stream=out)
        await term.open()
        await term.show(make_frame("idle"))
        await term.close(blank=True)
    assert tty.getvalue() == "\r● Idle\x1b[K\r\x1b[K"
    assert pipe.getvalue() == "● Idle\n"


async def test_terminal_close_before_any_frame_writes_nothing() -> None:
    out = FakeTTY()
    term = TerminalDriver("t", stream=out)
    await term.open()
    await term.close()
    assert out.getvalue() == ""


async def test_terminal_label_unknown_state_and_focus_duration() -> None:
    now = [1000.0]
    out = FakeTTY()
    term = TerminalDriver("t", TerminalOptions(color="never"), stream=out, clock=lambda: now[0])
    await term.open()
    sessions = [
        make_session("websocket:abc", "thinking", since=990.0),
        make_session("x", "napping", channel="discord", since=900.0),
        make_session("telegram:9", "waiting_for_user", since=988.0),
    ]
    await term.show(make_frame("active", sessions, label="busy", focus="websocket:abc"))
    assert out.getvalue() == (
        "\r● busy — websocket abc 10s · discord x napping (a state agentlight does not know)"
        " · telegram 9 waiting for you\x1b[K"
    )
    # Without a focus, the most urgent session is the label and gets the duration.
    now[0] = 1053.0
    out.seek(0)
    out.truncate()
    await term.show(make_frame("active", sessions, label="busy"))
    assert out.getvalue().startswith("\r● busy — telegram 9 1m05s · websocket abc thinking")
    # The duration moves on without a new frame.
    now[0] = 988.0 + 3 * 3600 + 7 * 60
    out.seek(0)
    out.truncate()
    await term.show(make_frame("active", sessions, label="busy"), force=True)  # a refresh
    assert "telegram 9 3h07m" in out.getvalue()
    # Past ten minutes the line shows whole minutes, so a refresh within one writes nothing.
    now[0] = 988.0 + 12 * 60 + 5
    out.seek(0)
    out.truncate()
    await term.show(make_frame("active", sessions, label="busy"), force=True)
    assert out.getvalue().startswith("\r● busy — telegram 9 12m · ")
    now[0] += 1.0
    out.seek(0)
    out.truncate()
    await term.show(make_frame("active", sessions, label="busy"), force=True)
    assert out.getvalue() == ""
    await term.close()


async def test_terminal_says_states_in_words_with_title_and_error() -> None:
    out = io.StringIO()
    term = TerminalDriver("t", TerminalOptions(color="never"), stream=out)
    await term.open()
    web = make_session("websocket:w", "tool_running", "bash", title="Fix the deploy script")
    await term.show(make_frame("active", [web], label="bash", focus="websocket:w"))
    err = make_session("telegram:9", "error", error="Rate limit exceeded")
    await term.show(make_frame("degraded", [err], label="Error", focus="telegram:9"))
    waiting = make_session("websocket:w", "waiting_for_user")
    await term.show(make_frame("active", [waiting], label="Waiting for you", focus="websocket:w"))
    await term.show(make_frame("disconnected", label="No agent"))
    await term.close()
    assert out.getvalue().splitlines() == [
        "● Running bash — “Fix the deploy script”",
        "● Error: Rate limit exceeded",
        "● Waiting for you",
        "● No agent",
    ]


@pytest.mark.parametrize(
    ("env", "code"),
    [
        ({"COLORTERM": "truecolor", "TERM": "xterm"}, "\x1b[38;2;0;255;64m"),
        ({"TERM": "xterm-256color"}, "\x1b[38;5;47m"),
        ({"TERM": "xterm"}, "\x1b[92m"),
        ({"TERM": "linux"}, "\x1b[92m"),
    ],
)
async def test_terminal_colours_fall_back_to_256_and_16(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], code: str
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("COLORTERM", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    out = FakeTTY()
    term = TerminalDriver("t", stream=out)
    await term.open()
    await term.show(make_frame("idle", color="#00ff40", label="Idle"))
    await term.close(blank=False)
    assert f" {code}Idle\x1b[0m" in out.getvalue()  # the label is coloured too


async def test_terminal_keeps_a_floor_of_brightness(color_term: None) -> None:
    """Idle's 12 % green and a pulse's low point stay readable on a dark background."""
    out = FakeTTY()
    term = TerminalDriver("t", stream=out)
    await term.open()
    dim = make_look("#00ff40", "pulse", brightness=0.12, label="Idle")
    await term.show(make_frame("idle", look=dim, sampled="#000301"))
    await term.close(blank=False)
    text = out.getvalue()
    codes = [tuple(map(int, m)) for m in re.findall(r"38;2;(\d+);(\d+);(\d+)m", text)]
    dot, label = codes
    assert max(dot) >= 90
    assert max(label) >= 170
    assert dot[1] > dot[0] and label[1] > label[0]  # still green


async def test_terminal_dumb_gets_no_colour_and_no_cursor_movement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = FakeTTY()
    term = TerminalDriver("t", stream=out)
    await term.open()
    await term.show(make_frame("idle", color="#00ff40", label="Idle"))
    await term.show(make_frame("active", TWO_SESSIONS))
    await term.close()
    assert out.getvalue() == f"● Idle\n{LINE}\n"
    assert term.caps.refresh is None


async def test_terminal_asks_the_engine_for_a_refresh_only_on_a_tty() -> None:
    tty = TerminalDriver("t", TerminalOptions(color="never"), stream=FakeTTY())
    piped = TerminalDriver("p", TerminalOptions(color="never"), stream=io.StringIO())
    await tty.open()
    await piped.open()
    # The duration ticks on a terminal; a pipe gets changes only, and no animation.
    assert tty.caps.refresh == TerminalDriver.REFRESH_INTERVAL
    assert tty.caps.native_effects == frozenset()
    assert piped.caps.refresh is None
    assert piped.caps.native_effects == frozenset(Effect)
    await tty.close()
    await piped.close()


async def test_terminal_stream_option_picks_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    term = TerminalDriver("t", TerminalOptions(stream="stderr"))
    await term.open()
    await term.show(make_frame("idle"))
    await term.close()
    assert (out.getvalue(), err.getvalue()) == ("", "● Idle\n")


async def test_terminal_falls_back_to_ascii_when_the_stream_cannot_encode() -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    term = TerminalDriver("t", stream=out)
    await term.open()
    await term.show(make_frame("active", TWO_SESSIONS))
    await term.close()
    assert raw.getvalue().decode() == ("* Running bash - discord x | websocket abc thinking\n")


def test_terminal_class_settings() -> None:
    assert TerminalDriver.TYPE == "terminal"
    assert TerminalDriver("t").caps.fps == 10.0
    assert TerminalDriver("t").caps.shows_sessions
    with pytest.raises(ValueError):
        TerminalOptions(width=-1)


async def test_terminal_line_follows_a_new_reason_in_the_same_state() -> None:
    """A reason that changes while the state does not (an MQTT source: the other
    bridge's will, then the broker itself gone) is a new line: the line says the
    reason that holds now, never the first one of the state."""
    import dataclasses

    from bridge.pipeline.model import ConnectionState, SourceStatus

    out = io.StringIO()
    term = TerminalDriver("t", stream=out)
    await term.open()
    for reason in ("agentlight/vm offline", "broker 127.0.0.1:1883 unreachable", "x offline"):
        frame = make_frame("disconnected", label="No agent")
        source = SourceStatus("mqtt", ConnectionState.DISCONNECTED, None, reason)
        status = dataclasses.replace(frame.status, sources=(source,))
        await term.show(dataclasses.replace(frame, status=status))
    await term.close()
    assert out.getvalue().splitlines() == [
        "● No agent — agentlight/vm offline",
        "● No agent — broker 127.0.0.1:1883 unreachable",
        "● No agent — x offline",
    ]
