"""Input from devices: a key or button pressed or released, and what it showed.

A driver turns its hardware's callbacks into :class:`InputEvent` objects and
hands them to the engine (``Driver.emit_input``). The engine gives each event
back to the driver's own actions (page, brightness, details) and to every
source that can act on a session (answer a question, focus a window), so a
driver never calls a source and a source never knows which button was pressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bridge.pipeline.model import SessionRef

TargetKind = Literal["global", "session", "control"]


@dataclass(frozen=True, slots=True)
class Target:
    """What the pressed control showed when it was pressed.

    :param kind: ``global`` (the agent's overall state), ``session`` (one
        session, named by ``session``) or ``control`` (a page key, a pedal
        switch: named by ``name``).
    :param ask: the id of the open request the control showed (a choice key), so a
        press drawn for one request never answers another that took its place;
        "" when the control showed none.
    """

    kind: TargetKind
    session: SessionRef | None = None
    name: str = ""
    ask: str = ""

    @classmethod
    def of_session(cls, ref: SessionRef) -> Target:
        return cls("session", ref)

    @classmethod
    def control(cls, name: str) -> Target:
        return cls("control", None, name)


GLOBAL = Target("global")


@dataclass(frozen=True, slots=True)
class InputEvent:
    """One press or release.

    :param device: the device's config name.
    :param control: the hardware control, e.g. ``key:3``, ``dial:0``, ``pedal:1``.
    :param pressed: True on press, False on release.
    :param t: monotonic time of the event.
    """

    device: str
    control: str
    pressed: bool
    target: Target = GLOBAL
    t: float = field(default=0.0, compare=False)


__all__ = ["GLOBAL", "InputEvent", "Target", "TargetKind"]
