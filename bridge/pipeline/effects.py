"""Effects as pure functions of time.

``sample(look, t)`` is the color a look shows ``t`` seconds after it started;
``next_change(look, t)`` is when that color next changes, so the engine sleeps
until then instead of ticking. No clock is read here: tests pass the time.
"""

from __future__ import annotations

import math

from bridge.pipeline.looks import BLACK, Color, Effect, Look

# A pulse never goes fully dark: a breathing LED that vanishes reads as "off".
PULSE_FLOOR = 0.08


def level(look: Look, t: float) -> float:
    """Brightness factor 0-1 of ``look`` at ``t`` seconds after it started."""
    effect = look.effect
    if effect is Effect.OFF:
        return 0.0
    if effect is Effect.SOLID:
        return look.brightness
    phase = (t % look.period) / look.period if t >= 0 else 0.0
    if effect is Effect.BLINK:
        # On first, so a change is seen the moment it happens.
        return look.brightness if phase < 0.5 else 0.0
    # PULSE: starts bright and breathes down and up (raised cosine).
    wave = 0.5 + 0.5 * math.cos(2 * math.pi * phase)
    return look.brightness * (PULSE_FLOOR + (1 - PULSE_FLOOR) * wave)


def sample(look: Look, t: float) -> Color:
    """The color ``look`` shows ``t`` seconds after it started."""
    factor = level(look, t)
    if factor <= 0.0:
        return BLACK
    return look.color.scaled(factor)


def next_change(look: Look, t: float, max_fps: float) -> float | None:
    """When the color of ``look`` next changes after ``t``, or None if never.

    Blink changes twice per period; a pulse changes continuously, so it is
    sampled at the driver's ``max_fps``.
    """
    if not look.animated:
        return None
    if look.effect is Effect.BLINK:
        half = look.period / 2
        return (math.floor(t / half) + 1) * half
    return t + 1.0 / max_fps
