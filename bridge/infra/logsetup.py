"""Logging for people: one handler on stderr whose lines no server text can forge.

Log messages often carry what a server sent (a tool name, an error message, a
session key). :class:`SafeFormatter` passes every formatted message through
:func:`bridge.text.textsafe.clean`, at every level, so a log line never carries an
escape sequence, a carriage return or a newline that was not ours.
"""

from __future__ import annotations

import logging
import sys

from bridge.infra.secret import redact_text
from bridge.text.textsafe import clean, clean_lines

__all__ = ["MESSAGE_LIMIT", "SafeFormatter", "setup_logging"]

#: Longest message written; a hostile megabyte in one field stays out of the log.
MESSAGE_LIMIT = 2000

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class SafeFormatter(logging.Formatter):
    """A formatter that escapes controls in messages, arguments and tracebacks.

    :param prefix: written before every line as is (ours, e.g. a "clear the
        terminal line" code), never cleaned.
    """

    def __init__(self, fmt: str = _FORMAT, *, prefix: str = "") -> None:
        super().__init__(fmt)
        self._prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception as err:  # a bad format string must not lose the line
            message = f"{record.msg!r} (unformattable: {err})"
        # A copy: other handlers (a test's caplog) keep the record as logged.
        safe = logging.makeLogRecord(record.__dict__)
        # Secrets out first (a cut could keep a password and lose its "@").
        safe.msg = clean(redact_text(message), MESSAGE_LIMIT)
        safe.args = None
        safe.exc_text = None
        return self._prefix + super().format(safe)

    def formatException(self, ei: object) -> str:
        return clean_lines(redact_text(super().formatException(ei)))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:
        return clean_lines(super().formatStack(stack_info))


def setup_logging(
    verbose: int,
    quiet: bool,
    level_name: str | None = None,
    *,
    default: int = logging.INFO,
) -> None:
    """Log to stderr at the level ``-v``/``-q``, the config or ``default`` asks for.

    ``-q`` wins, then ``-v`` (info) / ``-vv`` (debug), then ``level_name`` (the
    config's ``log_level``), then ``default``.
    """
    if quiet:
        level = logging.WARNING
    elif verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1:
        level = logging.INFO
    elif level_name:
        level = getattr(logging, level_name.upper(), default)
    else:
        level = default
    root = logging.getLogger()
    if not any(isinstance(h.formatter, SafeFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        # Start at column 0 over a clean line: the terminal indicator may be
        # mid-redraw on the same screen.
        prefix = "\r\x1b[K" if _isatty(sys.stderr) else ""
        handler.setFormatter(SafeFormatter(prefix=prefix))
        root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO; that is noise for a long-lived stream.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
