"""Exponential back-off with jitter, capped, resettable, bounded forever.

Written here rather than taken from tenacity: its wait strategies
(``wait_exponential``, ``wait_random_exponential``) are the same arithmetic,
and they do survive huge attempt numbers, but they take a ``RetryCallState``
per call (we would fake one to carry an attempt count), draw from the
``random`` module (the tests and the soak inject a seeded source), offer no
"equal jitter" (never less than half the delay), and importing tenacity costs
~30 ms of start-up. A reconnect loop also changes state between attempts
(stream vs. polling, a server's Retry-After, reset after a healthy connection),
which tenacity's decorator shape does not fit.

The state is the current delay, not an attempt count: each ``next()``
multiplies it by ``factor`` and clamps it at ``maximum``, so nothing grows after
the cap and no power is ever computed (``2.0 ** 1024`` raised OverflowError and
killed a device's task after ~6 h unplugged).
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays that grow ``factor``-fold from ``initial`` up to ``maximum``.

    Each delay is drawn from [d/2, d] ("equal jitter"): never zero, so a crowd of
    bridges does not hammer a server that just came back, and never more than
    the cap.
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        *,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not (0 < initial <= maximum < float("inf")) or not factor >= 1:
            raise ValueError("need 0 < initial <= maximum < inf and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._rand = rand
        self._base = initial  # the un-jittered delay next() hands out next

    def next(self) -> float:
        """The delay before the next attempt; grows with every call up to the cap."""
        base = self._base
        self._base = min(self.maximum, base * self.factor)
        return base / 2 + self._rand() * base / 2

    def reset(self) -> None:
        self._base = self.initial
