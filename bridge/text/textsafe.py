"""Server text is data: make any string safe to show, and measure what is visible.

A session's title, tool, key, channel, state name or error message comes from a
server we do not control. Written raw, it could clear the screen, set the window
title, write to the clipboard (OSC 52), plant a hyperlink (OSC 8), overwrite the
line with a carriage return, flip the text direction or forge a log line. Every
such string goes through :func:`clean` (or :func:`safe_json` for JSON lines)
before it reaches a terminal, a log line, a record line or a key image.

:func:`clean` shows what it neutralises instead of dropping it silently: an
escape becomes the four visible characters ``\\x1b``, a right-to-left override
``\\u202e``, a newline ``\\n``. The one format character it keeps is the zero-width
joiner inside an emoji sequence (👨‍💻), where it joins two pictographs into one.

Visible width (:func:`width`) is what a terminal draws, measured by the ``wcwidth``
package per grapheme cluster: ``⚠️`` (with its variation selector), ``👍🏽``, ``👨‍👩‍👧``
and ``日`` take two columns, ``é`` written with a combining accent one. Lines are cut
by it (:func:`cut`) between grapheme clusters, never inside an escape sequence that
*we* add (colours), and never counting such a sequence as visible. ``wcwidth`` is
imported only when non-ASCII text is measured or cut: start-up and ``--help`` do
not pay for it. Which characters are unsafe comes from :mod:`unicodedata`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from typing import Any

__all__ = ["ELLIPSIS", "clean", "clean_lines", "cluster_end", "cut", "safe_json", "tail", "width"]

ELLIPSIS = "…"

# Categories never written raw: controls (C0, DEL, C1), format characters (bidi
# overrides and isolates, zero-width joiners and spaces, soft hyphen, tag
# characters), surrogates, private use, unassigned (possibly a format character
# newer than this Python), and the line/paragraph separators some terminals and
# log viewers treat as a newline.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# The status line's own punctuation: one column on every terminal (wcwidth agrees,
# ambiguous width 1). Text of ASCII and these is measured without importing wcwidth,
# so a terminal's first look does not wait for it.
_NARROW = frozenset("●○·…—“”")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_ZWJ = "\u200d"
# Our own colour codes (SGR): zero width, and never cut in half.
_SGR = re.compile(r"\x1b\[[0-9;]*m")


@lru_cache(maxsize=4096)
def _escape_char(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    cp = ord(ch)
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def clean(text: object, limit: int | None = None) -> str:
    """``text`` as a string safe for a terminal, a log line or a key image.

    Controls and invisible format characters are shown escaped (``\\x1b``,
    ``\\u202e``, ``\\n``); other odd spaces (no-break, ideographic) become a
    plain space. A backslash is doubled only when something was escaped, so an
    escaped string cannot be confused with one the server sent literally.

    :param limit: keep at most this many characters of the result (then end with
        ``…``), so a hostile megabyte never reaches a log line.
    """
    if not isinstance(text, str):
        text = str(text)
    # Fast path: str.isprintable() is False for every category above and for
    # every space but " " — the common, harmless string costs one C call.
    if not text.isprintable():
        text = _clean_slow(text)
    if limit is not None and len(text) > limit:
        keep = max(limit - 1, 0)
        if not text.isascii():
            keep = _wc().grapheme_boundary_before(text, keep + 1)  # not inside a cluster
        text = text[:keep] + ELLIPSIS
    return text


def clean_lines(text: str) -> str:
    """:func:`clean` for multi-line text of our own (a traceback): newlines kept.

    Every line after the first is indented, so a line a server planted in an
    exception message cannot pass for a log line of its own.
    """
    lines = [clean(line) for line in text.split("\n")]
    return "\n".join(lines[:1] + ["  " + line if line else line for line in lines[1:]])


def _clean_slow(text: str) -> str:
    joins = _emoji_joins(text) if _ZWJ in text else frozenset()
    escaping = any(_unsafe(ch) for i, ch in enumerate(text) if i not in joins)
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\" if escaping else ch)
        elif ch.isprintable() or i in joins:
            out.append(ch)
        elif _unsafe(ch):
            out.append(_escape_char(ch))
        else:  # a space separator other than " " (Zs): harmless, but odd to measure
            out.append(" ")
    return "".join(out)


def _emoji_joins(text: str) -> frozenset[int]:
    """Indexes of zero-width joiners that join two pictographs into one emoji.

    By Unicode's grapheme rules a ZWJ joins only an emoji to the pictograph after
    it; anywhere else (``a\u200db``) it ends its cluster, and stays escaped.
    """
    joins = []
    pos = 0
    for cluster in _wc().iter_graphemes(text):
        for k, ch in enumerate(cluster[:-1]):
            if ch == _ZWJ:
                joins.append(pos + k)
        pos += len(cluster)
    return frozenset(joins)


def _wc() -> Any:
    """The ``wcwidth`` module, imported on first use (~20 ms: not at start-up)."""
    global _wcwidth
    if _wcwidth is None:
        import wcwidth

        _wcwidth = wcwidth
    return _wcwidth


_wcwidth: Any = None


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal; our SGR colour codes count as zero.

    Measured per grapheme cluster as terminals draw them (``wcwidth``): East Asian
    wide characters and emoji (with their variation selectors, skin tones and
    ZWJ sequences) take two columns, combining marks none. Meant for text that
    went through :func:`clean`.
    """
    if _simple(text):
        if "\x1b" not in text:
            return len(text)
        return len(_SGR.sub("", text))
    return int(_wc().width(text))


def _simple(text: str) -> bool:
    """ASCII and our own one-column punctuation only: a column per character."""
    return text.isascii() or all(ch < "\x80" or ch in _NARROW for ch in text)


def _split(text: str) -> list[tuple[bool, str]]:
    """``text`` as (is_escape, piece) pieces: our SGR codes apart from visible text."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in _SGR.finditer(text):
        if m.start() > pos:
            parts.append((False, text[pos : m.start()]))
        parts.append((True, m.group()))
        pos = m.end()
    if pos < len(text):
        parts.append((False, text[pos:]))
    return parts


def cut(text: str, columns: int, more: str = ELLIPSIS) -> str:
    """``text`` in exactly ``columns`` visible columns if it is wider, ending with ``more``.

    Cut between grapheme clusters (an emoji with its skin tone, a letter with its
    accent stay whole). A wide cluster that would straddle the edge is left out
    rather than split, and a space after ``more`` fills its column, so a cut line
    is exactly ``columns`` wide. Colour codes are kept whole (and those after the
    cut point are kept too, so a colour switched off later is still switched off).
    """
    columns = max(columns, 0)
    if width(text) <= columns:
        return text
    more_width = width(more)
    if more_width > columns:
        more, more_width = "", 0
    room = columns - more_width
    out: list[str] = []
    used = 0
    full = False
    for esc, piece in _split(text):
        if esc:
            out.append(piece)
            continue
        if full:
            continue
        simple = _simple(piece)
        for cluster in piece if simple else _wc().iter_graphemes(piece):
            w = 1 if simple else width(cluster)
            if used + w > room:
                full = True
                out.append(more + " " * (room - used))
                break
            out.append(cluster)
            used += w
    return "".join(out)


def cluster_end(text: str, n: int) -> int:
    """Where to cut ``text`` at or before index ``n`` without splitting a grapheme
    cluster (an emoji from its skin tone, a letter from its accent); at least the
    first cluster. For text measured some other way (pixels on a key)."""
    if n >= len(text) or text.isascii():
        return n
    start = int(_wc().grapheme_boundary_before(text, n + 1))  # of the cluster at n
    return start or len(next(_wc().iter_graphemes(text)))


def tail(text: str, columns: int) -> str:
    """The end of ``text`` that fits in ``columns``, in whole grapheme clusters.

    For plain text (no colour codes), as :func:`cut` keeps its start.
    """
    if columns <= 0:
        return ""
    if _simple(text):
        return text[-columns:]
    kept: list[str] = []
    used = 0
    for cluster in _wc().iter_graphemes_reverse(text):
        used += width(cluster)
        if used > columns:
            break
        kept.append(cluster)
    return "".join(reversed(kept))


def _json_escape(ch: str) -> str:
    cp = ord(ch)
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    cp -= 0x10000  # outside the BMP, JSON needs a surrogate pair
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def safe_json(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj)`` that is also safe to ``cat`` or ``tail -f`` on a terminal.

    Lossless: a JSON reader gets every string back exactly, but C1 controls,
    bidi overrides, invisible format characters and lone surrogates (which
    would not even encode as UTF-8) are written as ``\\uXXXX`` escapes, while
    ordinary non-ASCII text stays readable.
    """
    kwargs.setdefault("ensure_ascii", False)
    text = json.dumps(obj, **kwargs)
    if text.isprintable():
        return text
    # json.dumps escaped C0 already; what is left can only sit inside strings,
    # where a \\u escape is valid JSON.
    # (DEL is the one ASCII character it leaves raw.)
    return "".join(
        _json_escape(ch) if ch == "\x7f" or (not ch.isascii() and _unsafe(ch)) else ch
        for ch in text
    )
