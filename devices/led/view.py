"""Which look a light (or a strip segment) shows: the device's look or one session slot.

Shared by the LED drivers so that "LED 2 shows the second session" means the
same on a GPIO pin, a strip segment and a USB light.
"""

from __future__ import annotations

import dataclasses

from bridge.pipeline.frame import Frame
from bridge.pipeline.looks import BLACK, DARK, Color, Look
from devices.base import Capabilities


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


def slot_caps(
    caps: Capabilities, slot: int | None, slots: int | None
) -> tuple[int | None, Capabilities]:
    """A light's 0-based slot (None: the device's own look) and the caps it needs.

    :param slot: the ``slot`` option, counted from 1.
    :param slots: the ``slots`` option: how many lights share the sessions.

    A slot light needs the session list (``slots`` None: every session keeps a
    slot) and wakes only for its own slot's animations.
    """
    if slot is None:
        return None, caps
    index = slot - 1
    return index, dataclasses.replace(caps, sessions=slots, slots_shown=frozenset({index}))


__all__ = ["single", "slot_caps", "slot_look"]
