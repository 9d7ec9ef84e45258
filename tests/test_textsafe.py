"""Server text is data: escapes in every server string, through every writer.

A hostile server puts terminal controls (CSI, OSC 52 clipboard, OSC 8 links,
carriage returns, C1 controls, bidi overrides, invisible format characters) in
every string it sends. None of them may reach the terminal device (on a tty or
piped), a record line or a log line raw.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import pty
import re
import signal
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.infra.logsetup import SafeFormatter
from bridge.simulator import SimAgent, SimServer
from bridge.text.textsafe import clean, cut, safe_json, width
from devices.record import RecordDriver, RecordOptions
from devices.terminal import TerminalDriver, TerminalOptions
from tests.conftest import eventually
from tests.frames import make_frame, make_session

ROOT = Path(__file__).resolve().parent.parent

# One of each class of attack.
ATTACKS = {
    "csi": "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "osc52": "\x1b]52;c;cm0gLXJmIH4=\x07",  # write to the clipboard
    "osc8": "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # a hyperlink
    "title": "\x1b]0;pwned\x07",  # window title
    "cr": "\ridle, everything fine",  # overwrite the line
    "newline": "\n2026-01-01 00:00:00 WARNING agentlight: forged",
    "c1": "\x9b2J\x9d0;x\x9c\x85",  # 8-bit CSI / OSC / ST / NEL
    "bidi": "\u202etxt.exe\u202c\u2066\u2069\u200f",
    "invisible": "a\u200bb\u2060c\ufeffd\u00ad\U000e0041",
    "del_bs": "abc\x7f\x08\x08",
    "surrogate": "x\udc80y",
}
HOSTILE = "".join(ATTACKS.values())

# What the terminal driver itself writes: colours, carriage return, clear to end.
_OURS = re.compile(r"\x1b\[(?:[0-9;]*m|K)|\r")


def _unsafe_chars(text: str) -> set[str]:
    return {
        ch
        for ch in text
        if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} and ch != "\n"
    }


def assert_inert(text: str, *, ours: bool = False) -> None:
    """No control or invisible character in ``text`` (but our own codes if ``ours``)."""
    if ours:
        text = _OURS.sub("", text)
    assert not _unsafe_chars(text), sorted(map(repr, _unsafe_chars(text)))


# -- the functions ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_clean_escapes_each_attack_visibly(name: str) -> None:
    attack = ATTACKS[name]
    out = clean(f"tool{attack}")
    assert_inert(out)
    assert "\n" not in out
    assert out.startswith("tool")
    assert "\\" in out  # shown escaped, not dropped silently


def test_clean_keeps_ordinary_text_as_is() -> None:
    for text in ("bash", "Résumé the notes", "日本語のタイトル", "emoji 🚀 ok", "a\\b"):
        assert clean(text) == text


def test_clean_distinguishes_an_escape_from_a_literal_backslash_x() -> None:
    # Once something is escaped, the server's own backslashes are doubled.
    assert clean("\\x1b\x1b") == "\\\\x1b\\x1b"
    assert clean("\\x1b") == "\\x1b"  # nothing escaped: the text as sent


def test_clean_limits_length() -> None:
    assert clean("x" * 10_000, 50) == "x" * 49 + "…"


@given(st.text())
def test_clean_never_leaves_a_control(text: str) -> None:
    out = clean(text)
    assert_inert(out)
    assert "\n" not in out


def test_width_counts_what_is_visible() -> None:
    assert width("abc") == 3
    assert width("日本") == 4
    assert width("e\u0301") == 1
    assert width("\x1b[38;2;1;2;3mab\x1b[0m") == 2


def test_cut_never_splits_an_escape_or_a_wide_character() -> None:
    text = "\x1b[38;2;255;0;0m●\x1b[0m thinking 日本語 " + "x" * 50
    for columns in range(0, 40):
        out = cut(text, columns)
        assert width(out) <= columns
        # Every escape we wrote is whole: removing whole ones leaves no ESC behind.
        assert "\x1b" not in re.sub(r"\x1b\[[0-9;]*m", "", out)
        assert out.count("\x1b[") == text.count("\x1b[")  # a colour is always reset


@given(st.text(), st.integers(min_value=0, max_value=120))
def test_cut_fits_any_clean_text(text: str, columns: int) -> None:
    out = cut(clean(text), columns)
    assert width(out) <= columns


@given(st.recursive(st.text() | st.integers(), lambda kids: st.lists(kids, max_size=3)))
def test_safe_json_round_trips_and_is_inert(value: object) -> None:
    line = safe_json({"v": value})
    assert json.loads(line) == {"v": value}
    assert_inert(line)
    line.encode("utf-8")  # lone surrogates would not even encode


# -- the terminal driver ------------------------------------------------------------------


def hostile_frame(attack: str, *, tty_label: bool = True) -> object:
    """A frame where every server string carries ``attack``."""
    sessions = [
        make_session(
            f"web{attack}:k{attack}",
            "tool_running",
            tool=f"bash{attack}",
            channel=f"chan{attack}",
            title=f"Title{attack}",
            error=f"err{attack}",
        ),
        make_session(f"x:u{attack}", f"weird{attack}"),  # an unknown state, named raw
        make_session("x:e", "error", error=f"Rate limit{attack}", title=f"T{attack}"),
    ]
    # A theme label filled in from server text ({title}) is server text too.
    label = f"Busy: {attack}" if tty_label else ""
    return make_frame("degraded", sessions, label=label, focus=sessions[0].key)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("tty", [True, False])
async def test_terminal_driver_shows_server_text_inert(name: str, tty: bool) -> None:
    out: io.StringIO = FakeTTY() if tty else io.StringIO()
    driver = TerminalDriver("t", TerminalOptions(width=200, color="always"), stream=out)
    await driver.open()
    await driver.show(hostile_frame(ATTACKS[name]))  # type: ignore[arg-type]
    await driver.close()
    written = out.getvalue()
    assert written
    assert_inert(written, ours=True)
    lines = _OURS.sub("", written).split("\n")
    # Piped: one line per change, and nothing a server sent started a new one.
    assert len([line for line in lines if line]) == 1
    for line in lines:
        assert width(line) <= 200


async def test_terminal_cut_to_width_never_swallows_the_rest() -> None:
    out = FakeTTY()
    driver = TerminalDriver("t", TerminalOptions(width=30, color="always"), stream=out)
    await driver.open()
    await driver.show(hostile_frame(HOSTILE))  # type: ignore[arg-type]
    text = out.getvalue()
    await driver.close()
    visible = _OURS.sub("", text)
    assert width(visible) <= 30
    assert_inert(text, ours=True)
    colours = re.findall(r"\x1b\[(?:3|9)[0-9;]*m", text)
    assert colours and len(colours) == text.count("\x1b[0m")  # every colour is reset


# -- the record driver -------------------------------------------------------------------


async def test_record_lines_keep_server_text_exactly_but_never_raw(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    driver = RecordDriver("r", RecordOptions(str(path)))
    await driver.open()
    frame = hostile_frame(HOSTILE)
    await driver.show(frame)  # type: ignore[arg-type]
    await driver.close()
    raw = path.read_bytes().decode("utf-8")
    assert_inert(raw)
    line = json.loads(raw.splitlines()[0])
    assert line["sessions"][0]["tool"] == f"bash{HOSTILE}"  # lossless for a JSON reader


# -- the log -------------------------------------------------------------------------------


def _log_to(stream: io.StringIO, prefix: str = "") -> logging.Logger:
    logger = logging.getLogger(f"test.textsafe.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter(prefix=prefix))
    logger.addHandler(handler)
    return logger


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_log_lines_cannot_be_forged(name: str) -> None:
    stream = io.StringIO()
    log = _log_to(stream)
    attack = ATTACKS[name]
    log.debug("session %s now %s", f"k{attack}", f"tool{attack}")
    log.warning(f"an f-string with server text {attack}")
    try:
        raise ValueError(f"server said {attack}")
    except ValueError:
        log.exception("frame failed")
    text = stream.getvalue()
    assert_inert(text)
    lines = text.splitlines()
    # Only our own line starts look like log lines; tracebacks are indented.
    starts = [line for line in lines if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert len(starts) == 3


def test_log_lines_are_bounded() -> None:
    stream = io.StringIO()
    _log_to(stream).info("tool %s", "x" * 1_000_000)
    assert len(stream.getvalue()) < 3000


# -- the real bridge --------------------------------------------------------------------


def _hostile_sessions(agent: SimAgent) -> None:
    attack = HOSTILE.replace("\udc80", "")  # JSON from a server; surrogates tested above
    agent.set_raw_session(
        {
            "session_key": f"web{attack}:k1",
            "session_id": "k1",
            "channel": f"web{attack}",
            "title": f"Title{attack}",
            "state": "tool_running",
            "tool_name": f"bash{attack}",
            "duration_seconds": 1.0,
            "token_usage": None,
            "error_message": None,
        }
    )
    agent.set_raw_session(
        {
            "session_key": "x:2",
            "session_id": "2",
            "channel": "x",
            "title": None,
            "state": f"weird{attack}",
            "tool_name": None,
            "duration_seconds": 1.0,
        }
    )
    agent.set_raw_session(
        {
            "session_key": "x:3",
            "session_id": "3",
            "channel": "x",
            "title": f"T{attack}",
            "state": "error",
            "tool_name": None,
            "duration_seconds": 1.0,
            "error_message": f"Rate limit{attack}",
        }
    )


@pytest.mark.parametrize("tty", [True, False], ids=["tty", "piped"])
async def test_run_with_a_hostile_server_writes_nothing_raw(tmp_path: Path, tty: bool) -> None:
    agent = SimAgent()
    _hostile_sessions(agent)
    async with SimServer(agent, debounce=0.01) as server:
        record = tmp_path / "r.jsonl"
        cfg = tmp_path / "c.toml"
        cfg.write_text(
            f'[[sources]]\ntype = "pocketpaw"\nurl = "{server.url}"\n'
            f'[[devices]]\ntype = "record"\npath = "{record}"\n'
            '[[devices]]\ntype = "terminal"\ncolor = "always"\nwidth = 300\n'
        )
        chunks: list[bytes] = []
        loop = asyncio.get_running_loop()
        if tty:
            leader, follower = pty.openpty()
            stdout: int = follower

            def drain() -> None:  # keep the pty from filling up and blocking the bridge
                try:
                    chunks.append(os.read(leader, 65536))
                except OSError:
                    loop.remove_reader(leader)

            loop.add_reader(leader, drain)
        else:
            stdout = asyncio.subprocess.PIPE
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", "run", "-vv", "-c", str(cfg),
            stdout=stdout, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        try:
            await eventually(
                lambda: record.exists() and '"error"' in record.read_text(), within=10
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 10)
        if tty:
            os.close(follower)
            await asyncio.sleep(0.05)  # the last bytes still in the pty
            loop.remove_reader(leader)
            os.close(leader)
            out = b"".join(chunks)
    assert proc.returncode == 0, err.decode()
    shown = out.decode("utf-8", "replace")
    assert "Error" in shown
    assert_inert(shown, ours=True)
    log = err.decode("utf-8")
    assert "weird" in log  # the unknown state is logged: there, escaped
    assert_inert(log, ours=True)
    assert_inert(record.read_text("utf-8"))
