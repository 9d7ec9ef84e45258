"""A frame: what one device shows at one moment.

It carries the whole normalized status and the looks for the global state and
for every session, already sampled at the frame's time, so a single LED reads
``frame.color`` while a Stream Deck or a strip walks ``frame.sessions`` (each
with a stable ``slot``: the LED, key or segment it keeps while it lives).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.pipeline.answers import DeskView
from bridge.pipeline.looks import BLACK, Color, Look
from bridge.pipeline.model import AgentStatus, GlobalState, Session, SessionRef


@dataclass(frozen=True, slots=True)
class SessionView:
    """One session with its look, the color that look shows now, and its slot.

    :param slot: the device's stable place for this session (0-based), kept
        while the session lives; None when the device has no room left for it.
    """

    session: Session
    look: Look
    color: Color
    slot: int | None = None

    @property
    def ref(self) -> SessionRef:
        return self.session.ref


@dataclass(frozen=True, slots=True)
class Frame:
    """What one device shows now.

    :param look: the device's main look: the global look, or the most urgent
        session's look when the device is set to ``show = "session"``.
    :param color: ``look`` sampled now (effect and brightness applied).
    :param focus: the session behind ``look`` (source and key), or None for global.
    :param global_look: the look of the global state, whatever ``look`` is.
    :param global_color: ``global_look`` sampled now.
    :param t: monotonic time the frame was sampled; not part of equality, so a
        frame that looks the same compares equal and is not written again.
    :param desk: answering from devices (:mod:`bridge.pipeline.answers`): holds under
        way, presses awaited, what was last sent; None while there is nothing to show.
    """

    device: str
    status: AgentStatus
    look: Look
    color: Color
    global_look: Look
    sessions: tuple[SessionView, ...] = ()
    focus: SessionRef | None = None
    global_color: Color = BLACK
    t: float = field(default=0.0, compare=False)
    desk: DeskView | None = None

    @property
    def state(self) -> GlobalState:
        return self.status.state

    @property
    def focused(self) -> Session | None:
        """The session behind ``look``, or None when the device shows the global look."""
        return self.status.find(self.focus) if self.focus is not None else None

    def in_slot(self, slot: int) -> SessionView | None:
        """The session shown in ``slot``, or None when the slot is free."""
        for view in self.sessions:
            if view.slot == slot:
                return view
        return None


__all__ = ["Frame", "SessionView"]
