"""Count the work a call does, not the time it takes: for "linear" tests.

:func:`count_ops` runs a function with a tracer that counts every Python bytecode
executed (``f_trace_opcodes``), in every function it calls. Work done in C (a ``in``
over a list, a ``dict`` lookup) is one opcode however long it runs, so inputs are
built from :class:`Key`, a ``str`` whose ``__eq__`` and ``__hash__`` are Python:
each comparison a C loop makes is then counted too, and a quadratic ``x in list``
shows up as n² opcodes. Deterministic (no clock, no other process matters), so a
test can double the input and check the count roughly doubles.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


class Key(str):
    """A string whose comparisons and hashes run Python code (so they are counted)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return str.__ne__(self, other)

    def __hash__(self) -> int:
        return str.__hash__(self)


def count_ops(fn: Callable[[], Any]) -> int:
    """Bytecodes executed by ``fn()`` and everything it calls (its result is dropped)."""
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "call":
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        elif event == "opcode":
            count += 1
        return trace

    old = sys.gettrace()
    sys.settrace(trace)
    try:
        fn()
    finally:
        sys.settrace(old)
    return count


def growth(make: Callable[[int], Callable[[], Any]], n: int) -> float:
    """ops(2n) / ops(n): about 2 for linear work, about 4 for quadratic."""
    return count_ops(make(2 * n)) / count_ops(make(n))
