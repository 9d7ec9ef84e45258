"""What a device is asked to show: colors, effects and looks.

A :class:`Look` is data (a color, an effect, its period and brightness, and for
keys a label, icon and text); :mod:`bridge.pipeline.effects` turns it into a color at a
moment. Colors are ``(r, g, b)`` in 0-1, like gpiozero's ``RGBLED.value``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Color:
    """An RGB color, each channel in 0-1 (checked on construction)."""

    r: float
    g: float
    b: float

    def __post_init__(self) -> None:
        for channel in (self.r, self.g, self.b):
            if not 0.0 <= channel <= 1.0:
                raise ValueError(f"color channels must be within 0..1, got {channel!r}")

    @classmethod
    def parse(cls, text: str) -> Color:
        """A CSS color name (``orange``) or ``#rrggbb`` / ``#rgb``.

        :raises ValueError: with what was expected.
        """
        import webcolors  # small, but only the theme loader needs it

        spec = text.strip()
        try:
            rgb = (
                webcolors.hex_to_rgb(spec)
                if spec.startswith("#")
                else webcolors.name_to_rgb(spec.lower())
            )
        except ValueError:
            raise ValueError(
                f"{text!r} is not a color: expected a CSS color name (e.g. 'orange') or '#rrggbb'"
            ) from None
        return cls.from_bytes(rgb.red, rgb.green, rgb.blue)

    @classmethod
    def from_bytes(cls, r: int, g: int, b: int) -> Color:
        return cls(r / 255, g / 255, b / 255)

    def to_bytes(self) -> tuple[int, int, int]:
        return (round(self.r * 255), round(self.g * 255), round(self.b * 255))

    @property
    def hex(self) -> str:
        r, g, b = self.to_bytes()
        return f"#{r:02x}{g:02x}{b:02x}"

    def scaled(self, factor: float) -> Color:
        """This color at ``factor`` brightness, rounded to 8-bit steps.

        Rounding keeps equal-looking colors equal, so drivers skip writes that
        would change nothing on the wire.
        """
        f = min(1.0, max(0.0, factor))
        return Color(
            round(self.r * f * 255) / 255,
            round(self.g * f * 255) / 255,
            round(self.b * f * 255) / 255,
        )

    def __str__(self) -> str:
        return self.hex


BLACK = Color(0.0, 0.0, 0.0)


class Effect(StrEnum):
    SOLID = "solid"
    OFF = "off"
    BLINK = "blink"
    PULSE = "pulse"
    # "breathe" is accepted as another name for pulse (see Effect.parse).

    @classmethod
    def parse(cls, text: str) -> Effect:
        name = text.strip().lower()
        if name == "breathe":
            return cls.PULSE
        return cls(name)

    @property
    def animated(self) -> bool:
        return self in (Effect.BLINK, Effect.PULSE)


EFFECT_NAMES = (*(e.value for e in Effect), "breathe")


@dataclass(frozen=True, slots=True)
class Look:
    """How something should appear.

    :param color: the full-brightness color.
    :param effect: solid, off, blink or pulse.
    :param period: seconds per blink or pulse cycle.
    :param brightness: 0-1, applied on top of the color.
    :param label: short text for keys and the terminal; may use ``{tool}``,
        ``{channel}``, ``{title}``, ``{state}`` (filled in by the mapping).
    :param icon: an icon name for keys (drivers that have none ignore it).
    :param text: a longer line for keys and the terminal.
    """

    color: Color
    effect: Effect = Effect.SOLID
    period: float = 1.0
    brightness: float = 1.0
    label: str = ""
    icon: str = ""
    text: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.brightness <= 1.0:
            raise ValueError(f"brightness must be within 0..1, got {self.brightness!r}")
        if self.period <= 0:
            raise ValueError(f"period must be > 0 seconds, got {self.period!r}")

    @property
    def animated(self) -> bool:
        return self.effect.animated and self.brightness > 0

    def with_(self, **changes: object) -> Look:
        return replace(self, **changes)  # type: ignore[arg-type]


DARK = Look(BLACK, Effect.OFF, brightness=0.0, label="off")

__all__ = ["BLACK", "DARK", "EFFECT_NAMES", "Color", "Effect", "Look"]
