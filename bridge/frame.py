"""A frame: what one device shows at one moment.

It carries the whole normalized status and the looks for the global state and
for every session, already sampled at the frame's time, so a single LED reads
``frame.color`` while a Stream Deck or a strip walks ``frame.sessions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.looks import Color, Look
from bridge.model import AgentStatus, GlobalState, Session


@dataclass(frozen=True, slots=True)
class SessionView:
    """One session with its look and the color that look shows now."""

    session: Session
    look: Look
    color: Color


@dataclass(frozen=True, slots=True)
class Frame:
    """What one device shows now.

    :param look: the device's main look: the global look, or the most urgent
        session's look when the device is set to ``show = "session"``.
    :param color: ``look`` sampled now (effect and brightness applied).
    :param focus: the key of the session behind ``look``, or None for global.
    :param global_look: the look of the global state, whatever ``look`` is.
    :param t: monotonic time the frame was sampled; not part of equality, so a
        frame that looks the same compares equal and is not written again.
    """

    device: str
    status: AgentStatus
    look: Look
    color: Color
    global_look: Look
    sessions: tuple[SessionView, ...] = ()
    focus: str | None = None
    t: float = field(default=0.0, compare=False)

    @property
    def state(self) -> GlobalState:
        return self.status.state


__all__ = ["Frame", "SessionView"]
