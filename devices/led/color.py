"""From a look's color to what an LED is driven with: brightness cap, gamma, balance.

Looks are perceptual (``#808080`` should look half as bright as white) but an
LED's light is linear in its PWM duty cycle or its 8-bit drive value, so a pulse
sampled linearly would sit near full brightness most of the cycle and drop off a
cliff at the bottom. Raising each channel to ``gamma`` (2.2, close to sRGB)
makes the pulse breathe evenly to the eye. The per-channel balance comes after
gamma: it trims raw light output (a green die that outshines the red one).

Pure functions, no I/O: shared by the GPIO, serial and USB drivers.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.pipeline.looks import Color

Levels = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Correction:
    """How one device turns a color into drive levels.

    :param brightness: cap 0-1, applied to the color before gamma (perceptual).
    :param gamma: exponent from perceptual to linear light; 1.0 = none.
    :param balance: (red, green, blue) multipliers 0-1, applied after gamma.
    """

    brightness: float = 1.0
    gamma: float = 2.2
    balance: Levels = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        check_correction(self.brightness, self.gamma, self.balance)

    def levels(self, color: Color) -> Levels:
        """Drive levels 0-1 for ``color`` (black stays exactly 0)."""
        b = self.brightness
        g = self.gamma
        br, bg, bb = self.balance
        return (
            _curve(color.r * b, g) * br,
            _curve(color.g * b, g) * bg,
            _curve(color.b * b, g) * bb,
        )

    def to_bytes(self, color: Color) -> tuple[int, int, int]:
        """8-bit drive values for ``color``; a lit channel never rounds down to 0."""
        return tuple(_byte(v) for v in self.levels(color))  # type: ignore[return-value]


def _curve(value: float, gamma: float) -> float:
    if value <= 0.0:
        return 0.0
    return min(1.0, value) ** gamma


def _byte(level: float) -> int:
    if level <= 0.0:
        return 0
    # A dim look (idle at 12 %) must not vanish: the smallest lit level is 1.
    return max(1, min(255, round(level * 255)))


def check_correction(brightness: float, gamma: float, balance: tuple[float, ...]) -> None:
    """Raise ValueError naming the bad option (used by every LED driver's Options)."""
    if not 0.0 <= brightness <= 1.0:
        raise ValueError(f"brightness must be from 0 to 1, got {brightness!r}")
    if not 0.2 <= gamma <= 5.0:
        raise ValueError(f"gamma must be from 0.2 to 5 (2.2 for LEDs, 1 for none), got {gamma!r}")
    if len(balance) != 3:
        raise ValueError(
            f"balance must be three numbers [red, green, blue] from 0 to 1, got {list(balance)!r}"
        )
    for channel in balance:
        if not 0.0 <= channel <= 1.0:
            raise ValueError(f"balance values must be from 0 to 1, got {list(balance)!r}")


def on_off(color: Color) -> tuple[bool, bool, bool]:
    """Which channels to switch on for an LED without PWM.

    A channel is on when it carries at least a third of the strongest channel,
    so amber (``#ffb000``) lights red and green while ``#00ff40`` lights only
    green; black is off. Brightness does not matter: there is no dimming.
    """
    top = max(color.r, color.g, color.b)
    if top <= 0.0:
        return (False, False, False)
    return (color.r >= top / 3, color.g >= top / 3, color.b >= top / 3)


__all__ = ["Correction", "Levels", "check_correction", "on_off"]
