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
import wcwidth
from hypothesis import given
from hypothesis import strategies as st

from bridge.infra.logsetup import SafeFormatter
from bridge.simulator import SimAgent, SimServer
from bridge.text.textsafe import clean, cluster_end, cut, safe_json, tail, width
from devices.record import RecordDriver, RecordOptions
from devices.terminal import TerminalDriver, TerminalOptions
from tests.conftest import FakeTTY, eventually
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
# Text a chat app puts in a title: CJK, ZWJ sequences, skin tones, flags, combining accents.
MIXED = "日本語のタイトル 👨\u200d💻 👩🏽\u200d🚀 👍🏿 🇯🇵 ❤️ Cafe\u0301 ñ 한국어"

# What the terminal driver itself writes: colours, carriage return, clear to end.
_OURS = re.compile(r"\x1b\[(?:[0-9;]*m|K)|\r")


def _unsafe(ch: str) -> bool:
    """Unicode's own "Other" group (controls, format, surrogates, private use,
    unassigned) and its separators that are not spaces (line, paragraph)."""
    category = unicodedata.category(ch)
    return category[0] == "C" or (category[0] == "Z" and category != "Zs")


def _emoji_join(text: str, i: int) -> bool:
    """A zero-width joiner between two emoji: a symbol (after its variation selector
    or skin tone) before it, a symbol after it."""
    before, after = text[i - 1 : i], text[i + 1 : i + 2]
    return (
        text[i] == "\u200d"
        and unicodedata.category(before or " ") in ("So", "Sk", "Mn")
        and unicodedata.category(after or " ") == "So"
    )


def _unsafe_chars(text: str) -> set[str]:
    return {
        ch for i, ch in enumerate(text) if _unsafe(ch) and ch != "\n" and not _emoji_join(text, i)
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
    for text in ("bash", "Résumé the notes", "日本語のタイトル", "emoji 🚀 ok", "a\\b", MIXED):
        assert clean(text) == text


def test_clean_keeps_a_joiner_only_inside_an_emoji() -> None:
    assert clean("👨\u200d💻 and 🏳️\u200d🌈") == "👨\u200d💻 and 🏳️\u200d🌈"
    assert clean("a\u200db") == "a\\u200db"
    assert clean("👨\u200d") == "👨\\u200d"  # joins nothing
    assert clean("\u200d💻") == "\\u200d💻"


def test_clean_limits_at_a_grapheme_boundary() -> None:
    text = "ab👍🏽👨\u200d👩\u200d👧e\u0301日" * 5
    graphemes = list(wcwidth.iter_graphemes(text))
    for limit in range(1, len(text) + 2):
        out = clean(text, limit)
        assert len(out) <= limit
        kept = out.removesuffix("…")
        assert kept == "".join(graphemes[: len(list(wcwidth.iter_graphemes(kept)))])


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


def test_width_counts_what_a_terminal_draws() -> None:
    assert width("abc") == 3
    assert width("日本") == 4
    assert width("e\u0301") == 1
    assert width("\x1b[38;2;1;2;3mab\x1b[0m") == 2
    # Emoji as terminals draw them: the variation selector makes ⚠ wide, a skin tone
    # and a ZWJ family are one wide character each.
    assert width("⚠️" * 30) == 60
    assert (width("❤️"), width("👍🏽"), width("👨\u200d👩\u200d👧"), width("🇯🇵")) == (2, 2, 2, 2)
    assert width(MIXED) == wcwidth.width(MIXED)
    # The status line's own glyphs, measured without wcwidth, are what wcwidth says.
    for glyph in "●○·…—“”":
        assert width(f"x{glyph}") == wcwidth.width(f"x{glyph}") == 2


def test_cut_never_splits_an_escape_or_a_wide_character() -> None:
    text = "\x1b[38;2;255;0;0m●\x1b[0m thinking 日本語 " + MIXED + "x" * 50
    for columns in range(0, 80):
        out = cut(text, columns)
        assert wcwidth.width(out) == columns  # exactly: a straddling wide one is a space
        kept = re.sub(r"\x1b\[[0-9;]*m", "", out).rstrip(" …")
        plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
        assert plain.startswith(kept)
        assert (
            list(wcwidth.iter_graphemes(kept))
            == list(wcwidth.iter_graphemes(plain))[: len(list(wcwidth.iter_graphemes(kept)))]
        )
        # Every escape we wrote is whole: removing whole ones leaves no ESC behind.
        assert "\x1b" not in re.sub(r"\x1b\[[0-9;]*m", "", out)
        assert out.count("\x1b[") == text.count("\x1b[")  # a colour is always reset


def test_cluster_end_never_splits_a_grapheme() -> None:
    boundaries = [0]
    for cluster in wcwidth.iter_graphemes(MIXED):
        boundaries.append(boundaries[-1] + len(cluster))
    for n in range(1, len(MIXED) + 1):
        assert cluster_end(MIXED, n) == max(b for b in boundaries if b <= n)
    assert cluster_end("👍🏽x", 1) == 2  # at least the first cluster
    assert cluster_end("abc", 2) == 2


def test_tail_keeps_whole_clusters_from_the_end() -> None:
    graphemes = list(wcwidth.iter_graphemes(MIXED))
    for columns in range(0, wcwidth.width(MIXED) + 2):
        end = tail(MIXED, columns)
        assert MIXED.endswith(end)
        assert columns - 1 <= wcwidth.width(end) <= columns or end == MIXED
        n = len(list(wcwidth.iter_graphemes(end)))
        assert end == "".join(graphemes[len(graphemes) - n :])


@given(st.text(), st.integers(min_value=0, max_value=120))
def test_cut_fits_any_clean_text(text: str, columns: int) -> None:
    safe = clean(text)
    out = cut(safe, columns)
    if wcwidth.width(safe) <= columns:
        assert out == safe
    else:
        assert wcwidth.width(out) == columns


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
        assert wcwidth.width(line) <= 200


async def test_terminal_cut_to_width_never_swallows_the_rest() -> None:
    out = FakeTTY()
    driver = TerminalDriver("t", TerminalOptions(width=30, color="always"), stream=out)
    await driver.open()
    await driver.show(hostile_frame(HOSTILE))  # type: ignore[arg-type]
    text = out.getvalue()
    await driver.close()
    visible = _OURS.sub("", text)
    assert wcwidth.width(visible) <= 30
    assert_inert(text, ours=True)
    colours = re.findall(r"\x1b\[(?:3|9)[0-9;]*m", text)
    assert colours and len(colours) == text.count("\x1b[0m")  # every colour is reset


@pytest.mark.parametrize("columns", [20, 33, 40, 57, 80, 121])
async def test_a_status_line_of_emoji_fits_the_terminal_exactly(columns: int) -> None:
    # Titles from chat apps: 30 warning signs, then CJK, ZWJ emoji, skin tones, accents.
    title = "⚠️" * 30 + MIXED
    session = make_session("telegram:s1", "waiting_for_user", title=title)
    out = FakeTTY()
    driver = TerminalDriver("t", TerminalOptions(width=columns, color="always"), stream=out)
    await driver.open()
    await driver.show(make_frame("active", [session], focus=session.key))
    await driver.close()
    lines = [line for line in _OURS.sub("", out.getvalue()).split("\n") if line]
    assert lines and all(wcwidth.width(line) == columns for line in lines), lines
    assert "\\u" not in lines[0]  # the joiners and selectors are drawn, not escaped
    if columns >= 40:
        assert "⚠️⚠️" in lines[0]


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
        hung_up = loop.create_future()
        if tty:
            leader, follower = pty.openpty()
            stdout: int = follower

            def drain() -> None:  # keep the pty from filling up and blocking the bridge
                try:
                    chunks.append(os.read(leader, 65536))
                except OSError:  # EIO: every byte read and the far end closed
                    loop.remove_reader(leader)
                    if not hung_up.done():
                        hung_up.set_result(None)

            loop.add_reader(leader, drain)
        else:
            stdout = asyncio.subprocess.PIPE
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", "run", "-vv", "-c", str(cfg),
            stdout=stdout, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        try:
            await eventually(lambda: record.exists() and '"error"' in record.read_text(), within=10)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 10)
        if tty:
            os.close(follower)
            await asyncio.wait_for(hung_up, 10)  # the last bytes read from the pty
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
