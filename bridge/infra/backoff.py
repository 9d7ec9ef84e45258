"""Exponential back-off with jitter, capped, resettable.

Hand-written rather than taken from tenacity or backoff: a reconnect loop
changes state between attempts (stream vs. polling, a server's Retry-After,
reset after a healthy connection), which those libraries' decorator and
generator shapes don't fit; the arithmetic is ten lines. The random source is
injectable so tests are deterministic.
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
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError("need 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._rand = rand
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next attempt; grows with every call."""
        base = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return base / 2 + self._rand() * base / 2

    def reset(self) -> None:
        self.attempts = 0
