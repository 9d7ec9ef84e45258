"""Which key shows what: the Stream Deck layout, as pure functions of a frame.

Key 0 is the global key (the agent's state, active/max sessions, the
connection); the other keys show one session each, by the stable slot the
engine gave it, so a session never jumps to another key while it lives. When
the slots outnumber the keys, the last key pages (and lights up when a session
on another page needs you). Nothing here touches a deck or Pillow: the result
is a tuple of :class:`~devices.streamdeck.render.Face` values and a role per
key, so the driver can compare layouts and write only the keys that changed.

A session waiting on a request (``Session.ask``) gets its choices on free keys
of its own page (Allow, Deny, an option each), and in its details (with the
question, a "Later" and, for a run that can be stopped, a Stop): a key per
choice, coloured by kind, the danger colour for a dangerous request, locked
("keyboard") where the rules refuse it, a bar while it is held, a frame while a
second press is awaited, and the pedal's cursor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bridge.pipeline.answers import DeskView
from bridge.pipeline.looks import Color, Look
from bridge.pipeline.model import (
    STOP,
    AgentStatus,
    Ask,
    ChoiceKind,
    ConnectionState,
    GlobalState,
    Session,
    SessionRef,
    SessionState,
)
from bridge.text.statusline import duration
from devices.streamdeck.render import BLANK, RGB, Face, Strip, ink_on, safe, scale

RoleKind = Literal["global", "session", "page", "blank", "choice"]

#: Session fields a key can show, in the order they are drawn.
SESSION_FIELDS = ("channel", "state", "title", "tool", "time", "tokens", "error")

_SHORT_STATE = {
    SessionState.THINKING: "Thinking",
    SessionState.TOOL_RUNNING: "Tool",
    SessionState.STREAMING: "Answering",
    SessionState.WAITING_FOR_USER: "Waiting",
    SessionState.ERROR: "Error",
}
_CHANNELS = {"websocket": "WEB", "telegram": "TELEGRAM", "whatsapp": "WHATSAPP"}
_PAGE_GREY: RGB = (70, 70, 70)
# Choice keys: what each kind of answer looks like.
_CHOICE_BG: dict[str, RGB] = {
    ChoiceKind.ALLOW.value: (0, 130, 60),
    ChoiceKind.ALWAYS.value: (0, 100, 90),
    ChoiceKind.DENY.value: (150, 25, 25),
    ChoiceKind.ANSWER.value: (25, 70, 150),
    ChoiceKind.DISMISS.value: (55, 55, 55),
    STOP: (170, 80, 0),
}
_DANGER: RGB = (255, 45, 0)
_LOCKED: RGB = (70, 70, 70)
_CURSOR: RGB = (255, 215, 0)
_ARMED: RGB = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class Role:
    """What a key stood for when it was drawn (what a press on it means)."""

    kind: RoleKind
    session: SessionRef | None = None
    #: What a press on a choice key names (``allow``, ``answer:2``, ``stop``).
    action: str = ""
    #: The request the choice key was drawn for (its ``Ask.id``).
    ask: str = ""


BLANK_ROLE = Role("blank")


@dataclass(frozen=True, slots=True)
class Answering:
    """What the layout needs of the engine's desk for one deck.

    :param device: the deck's name (its own holds and presses are drawn).
    :param mono: the deck's monotonic time now (a hold's progress).
    """

    desk: DeskView | None = None
    device: str = ""
    mono: float = 0.0


@dataclass(frozen=True, slots=True)
class Placed:
    """A session with its look and the engine's stable slot for it."""

    slot: int
    session: Session
    look: Look


@dataclass(frozen=True, slots=True)
class Geometry:
    """The deck's keys, from the streamdeck library's class constants."""

    keys: int
    cols: int
    rows: int


@dataclass(frozen=True, slots=True)
class View:
    """One whole deck: a face and a role per key, a summary for a wide screen."""

    faces: tuple[Face, ...]
    roles: tuple[Role, ...]
    strip: Strip | None
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class LayoutOptions:
    """What the layout shows (a slice of the driver's options)."""

    global_key: bool = True
    fields: tuple[str, ...] = SESSION_FIELDS


def rgb(color: Color) -> RGB:
    return color.to_bytes()


def count(n: int) -> str:
    """A token count, short: 950, 12.3k, 4.1M."""
    if n < 1000:
        return str(n)
    if n < 100_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}M"


def channel_label(channel: str) -> str:
    name = safe(channel).strip()
    if not name:
        return "SESSION"
    return _CHANNELS.get(name.lower(), name.upper())


def state_word(session: Session, look: Look) -> str:
    """The key's big line: the theme's label when short, else a short state name."""
    label = safe(look.label)
    if label and len(label) <= 10:
        return label
    if session.state is SessionState.TOOL_RUNNING and session.tool:
        return safe(session.tool)
    if session.state is SessionState.UNKNOWN and session.raw_state:
        return safe(session.raw_state)
    return _SHORT_STATE.get(session.state, session.state.value.replace("_", " ").capitalize())


def _tokens(session: Session) -> int | None:
    tokens = session.tokens
    if tokens is None:
        return None
    return int(tokens.input + tokens.output + getattr(tokens, "reasoning", 0))


def session_face(
    placed: Placed,
    now: float,
    *,
    blink_on: bool,
    fields: Sequence[str] = SESSION_FIELDS,
    note: str = "",
) -> Face:
    """A session key: channel band, state, title/tool/error, time and tokens.

    :param note: a line about its request instead of the time ("press to answer",
        what was just sent or refused).
    """
    s, look = placed.session, placed.look
    color = rgb(look.color)
    word = state_word(s, look)
    lines: list[str] = []
    if "error" in fields and s.state is SessionState.ERROR and s.error:
        # The error is the news; the title stays one press away (details).
        lines.append(safe(s.error))
    else:
        if "title" in fields and s.title:
            lines.append(safe(s.title))
        if "tool" in fields and s.tool and safe(s.tool) != word:
            lines.append(safe(s.tool))
    showing_error = bool(lines) and "error" in fields and s.state is SessionState.ERROR
    # An error's words are the news: its key gives them the title's and the footer's
    # room too, led by the state word (the time in error is one press away, in the details).
    footer = safe(note) if note else ("" if showing_error else _footer(s, now, fields))
    header = channel_label(s.channel) if "channel" in fields else ""
    title = word if "state" in fields else ""
    if showing_error and title:
        lines[0] = f"{title}: {lines[0]}"
        title = ""
    if s.state.needs_user:
        # Stands out: full colour, alternating with a dark key in a coloured frame.
        if blink_on:
            # Its frame is the key's own colour: invisible, but both phases keep the
            # same room, so the text does not reflow as the key blinks.
            return Face(
                "session", color, scale(color, 0.55), header, title, tuple(lines), footer,
                ink_on(color), color,
            )  # fmt: skip
        return Face(
            "session", scale(color, 0.15), color, header, title, tuple(lines), footer,
            (255, 255, 255), color,
        )  # fmt: skip
    return Face("session", scale(color, 0.38), color, header, title, tuple(lines), footer)


def _footer(s: Session, now: float, fields: Sequence[str]) -> str:
    """Time in state and tokens, as " | "-separated variants, longest first."""
    spent = duration(s.duration(now)) if "time" in fields and s.since > 0 else ""
    total = _tokens(s) if "tokens" in fields else None
    if not total:
        return spent
    tokens = count(total)
    if not spent:
        return f"{tokens} tok | {tokens}"
    # Never a bare number: a count is "tok" or it is left out.
    return f"{spent} · {tokens} tok | {spent}"


def detail_cards(placed: Placed, now: float) -> list[tuple[str, str]]:
    """A session's details as (label, text) cards, one per key."""
    s = placed.session
    cards = [(channel_label(s.channel), state_word(s, placed.look))]
    if s.title:
        cards.append(("TITLE", safe(s.title)))
    if s.tool:
        cards.append(("TOOL", safe(s.tool)))
    if s.error:
        cards.append(("ERROR", safe(s.error)))
    tokens = s.tokens
    if tokens is not None:
        text = f"in {count(tokens.input)} out {count(tokens.output)}"
        reasoning = getattr(tokens, "reasoning", 0)
        if reasoning:
            text += f" think {count(reasoning)}"
        cards.append(("TOKENS", text))
    if s.since > 0:
        cards.append(("TIME", f"{duration(s.duration(now))} | {s.state.value.replace('_', ' ')}"))
    cards.append(("SESSION", safe(s.key)))
    return cards


def details_faces(placed: Placed, now: float, room: int) -> list[Face]:
    """The details of one session spread over ``room`` keys, a card on each."""
    color = rgb(placed.look.color)
    cards = detail_cards(placed, now)
    faces = []
    for i, (label, text) in enumerate(cards[:room]):
        if i == 0:
            faces.append(Face("details", scale(color, 0.38), color, label, text, (), "DETAILS"))
        else:
            # " | " splits a card into lines of its own (the time, then the state).
            lines = tuple(part for part in text.split(" | ") if part)
            faces.append(Face("details", (18, 18, 18), color, label, "", lines))
    return faces


# -- requests: a key per choice ---------------------------------------------------------


def _answered(ask: Ask, ref: SessionRef, answering: Answering) -> bool:
    desk = answering.desk
    return desk is not None and desk.is_answered(ref, ask.id)


def page_choices(placed: Placed, answering: Answering) -> list[tuple[Face, Role]]:
    """The keys a waiting session gets on its own page: one per choice (a "Later"
    only in its details), or one saying where to answer when a device cannot."""
    s = placed.session
    ask = s.ask
    if ask is None or _answered(ask, s.ref, answering):
        return []
    if not ask.answerable:
        return [(where_face(ask), Role("blank", s.ref))] if ask.where else []
    return [
        (choice_face(s, ask, i, answering), Role("choice", s.ref, c.id, ask.id))
        for i, c in enumerate(ask.choices)
        if c.kind is not ChoiceKind.DISMISS
    ]


def detail_choices(placed: Placed, answering: Answering) -> list[tuple[Face, Role]]:
    """A session's request in its details: the question, every choice, "Later", Stop."""
    s = placed.session
    keys: list[tuple[Face, Role]] = []
    ask = s.ask
    if ask is not None and not _answered(ask, s.ref, answering):
        color = rgb(placed.look.color)
        header = safe(ask.tool).upper() if ask.tool else ask.kind.value.upper()
        text = safe(ask.command) if ask.command else safe(ask.text)
        keys.append(
            (
                Face("details", scale(color, 0.38), color, header, "", (text,)),
                Role("session", s.ref),
            )
        )
        if ask.answerable:
            keys += page_choices(placed, answering)
            later = Face("choice", (30, 30, 30), _CHOICE_BG["dismiss"], "NOT HERE", "Later")
            keys.append((later, Role("choice", s.ref, ChoiceKind.DISMISS.value, ask.id)))
        elif ask.where:
            keys.append((where_face(ask), Role("blank", s.ref)))
    if s.stoppable:
        keys.append((choice_face(s, None, -1, answering), Role("choice", s.ref, STOP)))
    return keys


def where_face(ask: Ask) -> Face:
    """A request a device cannot answer: where to answer it."""
    return Face(
        "choice", (20, 20, 20), _LOCKED, "ANSWER", "", (safe(ask.where),), "", (200, 200, 200)
    )


def choice_face(session: Session, ask: Ask | None, index: int, answering: Answering) -> Face:
    """One choice of ``ask`` (index ``index``), or the Stop key when ``ask`` is None."""
    if ask is None:
        action, label, kind = STOP, "Stop", STOP
    else:
        choice = ask.choices[index]
        action, label, kind = choice.id, safe(choice.label), choice.kind.value
    deliberate = ask is None or ask.choices[index].deliberate
    ask_id = ask.id if ask is not None else ""
    if deliberate and ask is not None and ask.locked:
        return Face(
            "choice", (22, 22, 22), _LOCKED, "KEYBOARD", label, (safe(ask.locked),), "",
            (150, 150, 150),
        )  # fmt: skip
    bg = _CHOICE_BG.get(kind, _CHOICE_BG["answer"])
    danger = ask is not None and bool(ask.danger)
    if ask is None:
        header = "STOP RUN"
    elif danger and deliberate:
        header = "DANGER"
    elif ask.tool:
        header = safe(ask.tool).upper()
    else:
        header = "ANSWER"
    bar = _DANGER if danger else scale(bg, 1.6)
    lines = (safe(ask.danger),) if danger and deliberate and ask is not None else ()
    footer = "hold | press 2x | 2x" if deliberate else ""
    frame: RGB | None = _DANGER if danger and deliberate else None
    progress: float | None = None
    desk = answering.desk
    if desk is not None:
        armed = desk.armed_on(answering.device)
        if armed is not None and (armed.ref, armed.ask_id, armed.action) == (
            session.ref,
            ask_id,
            action,
        ):
            if armed.held:
                # Steps of a tenth: a new image per step, not per frame.
                progress = round(armed.progress(answering.mono, desk.hold), 1)
                footer = "release" if progress >= 1.0 else "hold..."
            else:
                footer = "press again"
                frame = _ARMED
        cursor = desk.cursor
        if (
            cursor is not None
            and ask is not None
            and (cursor.ref, cursor.ask_id) == (session.ref, ask.id)
            and cursor.index % len(ask.choices) == index
        ):
            frame = _CURSOR
    return Face("choice", bg, bar, header, label, lines, footer, ink_on(bg), frame, "", progress)


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?([^/\s?#]+)[^\s]*")


def _connection(status: AgentStatus) -> tuple[bool, str]:
    """Whether every source is connected, and a word on the first that is not."""
    for source in status.sources:
        if source.connection is not ConnectionState.CONNECTED:
            why = safe(source.detail) if source.detail else source.connection.value
            # On a key a URL is its host:port: "http://" and a path only wrap.
            why = _URL.sub(lambda m: m.group(1), why)
            return False, why.replace("_", " ")
    return True, ""


def global_face(status: AgentStatus, look: Look, *, note: str = "") -> Face:
    """The global key: the agent's state, sessions active/max, the connection."""
    color = rgb(look.color)
    connected, why = _connection(status)
    active, limit = 0, 0
    for source in status.sources:
        snap = source.snapshot
        if source.connection is ConnectionState.CONNECTED and snap is not None:
            active += snap.active_sessions
            limit += snap.max_concurrent or 0
    lines: list[str] = []
    if status.sessions or active:
        lines.append(f"{active}/{limit} active" if limit else f"{active} active")
    if not connected:
        lines.append(why)
    label = safe(look.label) or status.state.value.replace("_", " ").capitalize()
    attention = status.state in (GlobalState.AUTH_FAILED, GlobalState.DEGRADED)
    frame = color if attention else None
    return Face(
        "global", scale(color, 0.3 + 0.3 * look.brightness), color, "AGENT", label,
        tuple(lines), note, (255, 255, 255), frame, "dot" if connected else "ring",
    )  # fmt: skip


def page_face(page: int, pages: int, hidden: Sequence[Placed], *, blink_on: bool) -> Face:
    """The page key; it lights up when a session on another page needs you."""
    urgent = [p for p in hidden if p.session.state.needs_user]
    lines = (f"+{len(hidden)} more",) if hidden else ()
    need = f"{len(urgent)} need{'s' if len(urgent) == 1 else ''} you"
    if urgent:
        color = rgb(urgent[0].look.color)
        if blink_on:
            return Face("page", color, scale(color, 0.55), "MORE", f"{page + 1}/{pages}",
                        (need,), "", ink_on(color), color, "next")  # fmt: skip
        return Face("page", scale(color, 0.18), color, "MORE", f"{page + 1}/{pages}",
                    (need,), "", (255, 255, 255), color, "next")  # fmt: skip
    return Face(
        "page", (24, 24, 24), _PAGE_GREY, "MORE", f"{page + 1}/{pages}", lines, "",
        (255, 255, 255), None, "next",
    )  # fmt: skip


def strip_for(status: AgentStatus, look: Look, placed: Sequence[Placed], now: float) -> Strip:
    """The summary line for a wide screen (Neo info screen, Plus touch strip)."""
    label = safe(look.label) or status.state.value
    waiting = sum(1 for p in placed if p.session.state is SessionState.WAITING_FOR_USER)
    errors = sum(1 for p in placed if p.session.state is SessionState.ERROR)
    parts = [label, f"{len(placed)} session{'s' if len(placed) != 1 else ''}"]
    if waiting:
        parts.append(f"{waiting} waiting")
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    connected, why = _connection(status)
    if not connected:
        parts.append(why)
    detail = ""
    urgent = min(placed, key=lambda p: (p.session.urgency, p.slot), default=None)
    if urgent is not None:
        s = urgent.session
        title = safe(s.title) if s.title else ""
        bits = [channel_label(s.channel), title, state_word(s, urgent.look)]
        if s.since > 0:
            bits.append(duration(s.duration(now)))
        detail = " ".join(b for b in bits if b)
    dots = tuple(rgb(p.look.color) for p in sorted(placed, key=lambda p: p.slot))
    return Strip(rgb(look.color), " · ".join(parts), detail, dots)


def layout(
    geometry: Geometry,
    status: AgentStatus,
    global_look: Look,
    placed: Sequence[Placed],
    now: float,
    *,
    page: int = 0,
    blink_on: bool = True,
    details: SessionRef | None = None,
    note: str = "",
    options: LayoutOptions = LayoutOptions(),
    wide: bool = False,
    answering: Answering = Answering(),
) -> View:
    """Faces and roles for every key; ``page`` is clamped to the pages there are."""
    n = geometry.keys
    faces: list[Face] = [BLANK] * n
    roles: list[Role] = [BLANK_ROLE] * n
    first = 0
    if options.global_key and n > 0:
        faces[0] = global_face(status, global_look, note=note)
        roles[0] = Role("global")
        first = 1
    room = n - first
    needed = max((p.slot for p in placed), default=-1) + 1
    paging = needed > room and room >= 2
    per_page = room - 1 if paging else room
    pages = max(1, math.ceil(needed / per_page)) if per_page > 0 else 1
    page = min(max(page, 0), pages - 1)
    lo = page * per_page
    shown = {p.slot: p for p in placed if lo <= p.slot < lo + per_page}
    opened = next((p for p in placed if details is not None and p.session.ref == details), None)
    if opened is not None:
        # Details take the session keys for a few seconds; a press on any closes them.
        room = n - first
        keys = detail_choices(opened, answering)[:room]
        cards = details_faces(opened, now, room - len(keys))
        if keys:
            cards = cards[1:] if len(cards) > 1 else []  # the request's card replaces the first
            keys = keys + [(face, Role("session", opened.session.ref)) for face in cards]
        else:
            keys = [(face, Role("session", opened.session.ref)) for face in cards]
        for i, (face, role) in enumerate(keys[:room]):
            faces[first + i] = face
            roles[first + i] = role
        strip = strip_for(status, global_look, placed, now) if wide else None
        return View(tuple(faces), tuple(roles), strip, page, pages)
    free = [k for k in range(first, n - (1 if paging else 0)) if k - first + lo not in shown]
    notes: dict[int, str] = {}
    for slot in sorted(shown):
        p = shown[slot]
        keys = page_choices(p, answering)
        if keys and len(keys) <= len(free):
            for key, (face, role) in zip(free, keys, strict=False):
                faces[key], roles[key] = face, role
            free = free[len(keys) :]
        elif keys:
            notes[slot] = "press to answer"
        desk = answering.desk
        said = desk.note_for(p.session.ref) if desk is not None else None
        if said is not None:
            notes[slot] = said.text
    for slot, p in shown.items():
        key = first + slot - lo
        faces[key] = session_face(
            p, now, blink_on=blink_on, fields=options.fields, note=notes.get(slot, "")
        )
        roles[key] = Role("session", p.session.ref)
    if paging:
        hidden = [p for p in placed if p.slot not in shown]
        faces[n - 1] = page_face(page, pages, hidden, blink_on=blink_on)
        roles[n - 1] = Role("page")
    strip = strip_for(status, global_look, placed, now) if wide else None
    return View(tuple(faces), tuple(roles), strip, page, pages)


__all__ = [
    "SESSION_FIELDS",
    "Answering",
    "Geometry",
    "LayoutOptions",
    "Placed",
    "Role",
    "View",
    "channel_label",
    "choice_face",
    "count",
    "detail_choices",
    "layout",
    "page_choices",
    "session_face",
    "state_word",
]
