"""The budget every input is held to where it is parsed. No I/O here.

Servers are untrusted, and even an honest one under heavy use sends numbers and
strings no light needs. Every parser (PocketPaw, its event bus, AgP, MQTT status
documents) takes numbers through :func:`count`, :func:`seconds` and
:func:`number`, and strings through :func:`text`, so the model never holds an
integer a formatter cannot print (Python refuses ``str()`` of ints over 4,300
digits) or a float division cannot take (``10**400 / 1000`` overflows), nor a
megabyte where a title goes. Collections are capped where they are read, each
cap noted once per episode by :class:`Overflow`.

The limits, and why:

- counts (tokens, steps, sessions) at most :data:`MAX_COUNT`, 10^15: a thousand
  times any real token count, still exact as a float (< 2^53), so sums of a few
  and divisions are safe;
- durations at most :data:`MAX_SECONDS` (ten years), timestamps within
  :data:`MAX_NUMBER` of zero;
- keys and IDs :data:`KEY_CHARS`, names (tools, models, states) :data:`NAME_CHARS`,
  titles :data:`TITLE_CHARS`, messages (errors) :data:`MESSAGE_CHARS` characters.
"""

from __future__ import annotations

import logging
import math

__all__ = [
    "KEY_CHARS",
    "MAX_COUNT",
    "MAX_NUMBER",
    "MAX_SECONDS",
    "MESSAGE_CHARS",
    "NAME_CHARS",
    "TITLE_CHARS",
    "Overflow",
    "count",
    "number",
    "seconds",
    "text",
]

MAX_COUNT = 10**15
MAX_SECONDS = 10 * 365 * 24 * 3600.0
MAX_NUMBER = 1e15
KEY_CHARS = 256
NAME_CHARS = 80
TITLE_CHARS = 200
MESSAGE_CHARS = 500


def count(value: object) -> int | None:
    """A whole number >= 0, clamped to :data:`MAX_COUNT`; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value if value <= MAX_COUNT else MAX_COUNT
    return None


def number(value: object, limit: float = MAX_NUMBER) -> float | None:
    """A finite number clamped to ``[-limit, limit]``; None for anything else.

    Ints are compared before conversion: ``float(10**400)`` itself overflows.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return float(max(-limit, min(limit, value)))
    if not math.isfinite(value):
        return None
    return max(-limit, min(limit, value))


def seconds(value: object) -> float | None:
    """A duration: a finite number clamped to ``[0, MAX_SECONDS]``; None for anything else."""
    found = number(value, MAX_SECONDS)
    return None if found is None else max(0.0, found)


def text(value: object, limit: int) -> str | None:
    """A non-empty string cut to ``limit`` characters; None for anything else."""
    if isinstance(value, str) and value:
        return value[:limit]
    return None


class Overflow:
    """Which caps bit in the last thing parsed, logged once per episode.

    A cap that bites is logged (warning) the first time, then not again until it
    stops biting (info) and bites anew. :meth:`detail` says what was dropped, for
    the source's ``detail``.
    """

    def __init__(self, log: logging.Logger, source: str) -> None:
        self._log = log
        self._source = source
        self._dropped: dict[str, int] = {}

    def note(self, what: str, dropped: int, limit: int, why: str = "") -> None:
        """``dropped`` items of ``what`` over ``limit`` in the latest input (0: none)."""
        before = self._dropped.get(what, 0)
        if dropped > 0:
            if not before:
                self._log.warning(
                    "%s: %d %s over the cap of %d%s; dropping them until it shrinks",
                    self._source,
                    dropped,
                    what,
                    limit,
                    f" ({why})" if why else "",
                )
            self._dropped[what] = dropped
        elif before:
            del self._dropped[what]
            self._log.info("%s: %s back under the cap of %d", self._source, what, limit)

    def detail(self) -> str:
        """``"12 subagent IDs dropped; ..."`` or "" when no cap bites."""
        return "; ".join(f"{n} {what} dropped" for what, n in self._dropped.items())

    def __bool__(self) -> bool:
        return bool(self._dropped)
