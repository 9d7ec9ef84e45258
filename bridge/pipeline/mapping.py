"""Mapping: normalized status → looks, and looks → a frame per device.

:class:`Mapper` runs once per status change (never per animation tick) and
remembers when each look began, so a blink starts "on" the moment a state
changes and keeps its phase while nothing changes. :func:`frame_for` then
samples the looks for one device at one moment; it is cheap, because the
engine calls it on every animation tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bridge.pipeline import effects
from bridge.pipeline.frame import Frame, SessionView
from bridge.pipeline.looks import Effect, Look
from bridge.pipeline.model import AgentStatus, Session, SessionRef
from bridge.pipeline.slots import SlotMap
from bridge.pipeline.theme import Theme

#: What a single-look device shows: the most urgent session, or always the global state.
ShowMode = Literal["session", "global"]

# The next wake is at least this far ahead (seconds), so it is always in the future.
_MIN_STEP = 1e-6


@dataclass(frozen=True, slots=True)
class MappedSession:
    session: Session
    look: Look
    since: float  # monotonic time this look began


@dataclass(frozen=True, slots=True)
class Mapped:
    """Looks for one status: the global look and one per session, with start times."""

    status: AgentStatus
    global_look: Look
    global_since: float
    sessions: tuple[MappedSession, ...]

    @property
    def animated(self) -> bool:
        return self.global_look.animated or any(m.look.animated for m in self.sessions)


class Mapper:
    """Turns each new :class:`AgentStatus` into looks, keeping look start times."""

    def __init__(self, theme: Theme) -> None:
        self.theme = theme
        self._last: Mapped | None = None

    def set_theme(self, theme: Theme) -> None:
        """Use ``theme`` from the next :meth:`map` on; unchanged looks keep their phase."""
        self.theme = theme

    def map(self, status: AgentStatus, now: float) -> Mapped:
        theme = self.theme
        last = self._last
        global_look = _labelled(theme.global_look(status.state), status.state.value, None)
        global_since = (
            last.global_since if last is not None and last.global_look == global_look else now
        )
        # Keyed by source too: two servers may both have a "websocket:abc".
        previous = (
            {(m.session.source, m.session.key): m for m in last.sessions}
            if last is not None
            else {}
        )
        sessions = []
        for session in status.sessions:
            look = _labelled(
                theme.session_look(
                    session.state, tool=session.tool, channel=session.channel, raw=session.raw_state
                ),
                session.raw_state or session.state.value,
                session,
            )
            before = previous.get((session.source, session.key))
            since = before.since if before is not None and before.look == look else now
            sessions.append(MappedSession(session, look, since))
        mapped = Mapped(status, global_look, global_since, tuple(sessions))
        self._last = mapped
        return mapped


#: What ``{tool}`` says when a session runs a tool the server does not name.
NO_TOOL = "a tool"


def _labelled(look: Look, state: str, session: Session | None) -> Look:
    """Fill ``{tool}``-style placeholders; a bad placeholder shows as written."""
    if "{" not in look.label and "{" not in look.text:
        return look
    values = {
        "state": state,
        # A session the server says runs a tool but not which: words, not "tool".
        "tool": (session.tool if session else None) or NO_TOOL,
        "channel": session.channel if session else "",
        "title": (session.title if session else None) or "",
        "session": session.key if session else "",
        "steps": str(session.steps) if session is not None and session.steps is not None else "",
    }
    return look.with_(label=_format(look.label, values), text=_format(look.text, values))


def _format(template: str, values: dict[str, str]) -> str:
    if "{" not in template:
        return template
    try:
        return template.format_map(values)
    except Exception:  # themes are checked at load; this is the last line of defence
        return template


def select(mapped: Mapped, show: ShowMode) -> tuple[Look, float, SessionRef | None]:
    """The main look for a device: (look, when it began, session or None).

    ``session`` shows the most urgent session (error > waiting_for_user >
    tool_running > streaming > thinking) and falls back to the global look when
    there is none, or when the bridge itself has something to say (connecting,
    disconnected, auth failed). A session that needs the user (waiting, error)
    still wins over a connection problem: with two sources, one being down
    must not hide the other's question.
    """
    if show == "session" and mapped.sessions:
        best = min(mapped.sessions, key=lambda m: m.session.urgency)
        if not mapped.status.state.from_bridge or best.session.state.needs_user:
            return best.look, best.since, best.session.ref
    return mapped.global_look, mapped.global_since, None


def frame_for(
    device: str,
    mapped: Mapped,
    now: float,
    *,
    show: ShowMode = "session",
    with_sessions: bool = True,
    native: Iterable[Effect] = (),
    slots: SlotMap | None = None,
) -> Frame:
    """Sample ``mapped`` for one device at monotonic time ``now``.

    Effects the device runs natively are not sampled: it gets the look's full
    color and animates it itself. With ``slots``, each session view carries the
    stable slot that map gives it (the map is updated: call this once per frame).
    """
    native_set = frozenset(native)
    look, since, focus = select(mapped, show)
    views: tuple[SessionView, ...] = ()
    if with_sessions:
        placed = slots.assign(m.session.ref for m in mapped.sessions) if slots is not None else {}
        views = tuple(
            SessionView(
                m.session,
                m.look,
                _sample(m.look, now - m.since, native_set),
                placed.get(m.session.ref) if slots is not None else i,
            )
            for i, m in enumerate(mapped.sessions)
        )
    color = _sample(look, now - since, native_set)
    global_color = (
        color
        if focus is None
        else _sample(mapped.global_look, now - mapped.global_since, native_set)
    )
    return Frame(
        device=device,
        status=mapped.status,
        look=look,
        color=color,
        global_look=mapped.global_look,
        sessions=views,
        focus=focus,
        global_color=global_color,
        t=now,
    )


def _sample(look: Look, t: float, native: frozenset[Effect]) -> effects.Color:
    if look.effect in native:
        return look.color.scaled(look.brightness)
    return effects.sample(look, t)


def next_wake(
    mapped: Mapped,
    now: float,
    *,
    show: ShowMode,
    with_sessions: bool,
    max_fps: float,
    native: Iterable[Effect] = (),
    slots: SlotMap | None = None,
    slots_shown: frozenset[int] | None = None,
) -> float | None:
    """Monotonic time of the next color change this device must show, or None.

    With ``slots_shown`` (and the device's ``slots``), only the sessions in
    those slots and the global look count: an LED that shows one slot does not
    wake for a pulse on another LED's session.
    """
    native_set = frozenset(native)
    look, since, focus = select(mapped, show)
    pairs = [(look, since)]
    if with_sessions and slots is not None and slots_shown is not None:
        pairs = [(mapped.global_look, mapped.global_since)]
        shown = (m for m in mapped.sessions if slots.slot_of(m.session.ref) in slots_shown)
        pairs.extend((m.look, m.since) for m in shown)
    elif with_sessions:
        # A device with room for sessions draws the global look beside them.
        if focus is not None:
            pairs.append((mapped.global_look, mapped.global_since))
        pairs.extend((m.look, m.since) for m in mapped.sessions)
    wake: float | None = None
    for lk, start in pairs:
        if lk.effect in native_set:
            continue
        change = effects.next_change(lk, now - start, max_fps)
        if change is not None:
            # On a phase boundary, start + change can round back to ``now``: the
            # engine would then wake at once, forever, on a clock that stands still.
            at = max(start + change, now + _MIN_STEP)
            wake = at if wake is None else min(wake, at)
    return wake
