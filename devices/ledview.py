"""Which look a light (or a strip segment) shows: the device's look or one session slot.

Shared by the LED drivers so that "LED 2 shows the second session" means the
same on a GPIO pin, a strip segment and a USB light.
"""

from __future__ import annotations

from bridge.frame import Frame
from bridge.looks import BLACK, DARK, Color, Look


def slot_look(frame: Frame, slot: int) -> tuple[Look, Color] | None:
    """The look and color of the session in ``slot`` (0-based), or None when free."""
    for view in frame.sessions:
        if view.slot == slot:
            return view.look, view.color
    return None


def single(frame: Frame, slot: int | None) -> tuple[Look, Color]:
    """What one light shows.

    :param slot: None for the device's own look (global, or the most urgent
        session with ``show = "session"``); else the 0-based session slot.

    A free slot is dark while the agent is reachable; when the bridge itself
    has a problem (connecting, disconnected, auth failed) it shows that global
    look instead, so a wall of session LEDs never says "all quiet" when the
    truth is "can't see the agent".
    """
    if slot is None:
        return frame.look, frame.color
    found = slot_look(frame, slot)
    if found is not None:
        return found
    if frame.state.from_bridge:
        return frame.global_look, frame.global_color
    return DARK, BLACK


__all__ = ["single", "slot_look"]
