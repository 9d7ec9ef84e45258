"""Answering from a device, safely: the rules, the danger check and the gestures. No I/O.

Three parts, all pure (time comes in as numbers, so tests run on a virtual clock):

- :class:`AnswerOptions`, the ``[answers]`` table: whether approvals may come from
  a device at all (``allow_from_device = "safe" | "all" | "none"``, default
  ``"safe"``: not for a dangerous request), the danger patterns, the gesture times.
- :func:`annotate`: marks each open request (``Session.ask``) with why it is
  dangerous (the agent's own verdict, a pattern such as ``rm -rf`` or ``git push
  --force``, a file written outside the project) and why approvals are locked, so
  every device draws the same verdict the desk enforces.
- :class:`Desk`: turns presses and releases into decisions. An Allow, an Always or
  a Stop needs a deliberate gesture a stray press cannot make: held for ``hold``
  seconds (0.6) and released, or pressed a second time on the same device within
  ``confirm_within`` seconds (3). A Deny, an answer or a dismiss is one press. A
  request is answered once; a press for a request that has gone or changed meanwhile
  does nothing. What the desk is waiting for (a hold under way, a press to confirm)
  and what it last did are in :meth:`Desk.view`, for devices to draw.

The engine runs the desk (every device's input passes through it) and hands each
:class:`Decision` to the source that owns the session (``Source.answer``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Literal

from bridge.pipeline.asks import ANSWER_PREFIX, ASK_ACTIONS, STOP, Ask, AskKind, ChoiceKind
from bridge.pipeline.inputs import InputEvent
from bridge.pipeline.model import AgentStatus, Session, SessionRef, SourceStatus
from bridge.text.textsafe import clean

__all__ = [
    "ASK_CONFIRM",
    "ASK_FIRST",
    "ASK_NEXT",
    "BUILTIN_DANGER",
    "NAVIGATION",
    "AllowFrom",
    "AnswerOptions",
    "Armed",
    "Cursor",
    "Decision",
    "Desk",
    "DeskView",
    "Note",
    "Refusal",
    "annotate",
    "annotate_source",
    "danger_of",
    "describe_decision",
    "describe_refusal",
    "is_answer_action",
]

AllowFrom = Literal["safe", "all", "none"]

#: Actions for a pedal or a single button: go to the first waiting request's first
#: choice, to the next choice, and choose the one shown.
ASK_FIRST, ASK_NEXT, ASK_CONFIRM = "ask_first", "ask_next", "ask_confirm"
NAVIGATION = frozenset({ASK_FIRST, ASK_NEXT, ASK_CONFIRM})

# The built-in patterns, by the name a device and the log show. Each is matched
# within one command of a line (up to ; & | or a newline), case-sensitively as a
# shell is, except where the command itself ignores case. A command is any local
# process's (a hook payload): where a pattern names words in order, the first word
# after the one before is taken for good (an atomic group: a later one cannot do
# better), so "git push " * 222 costs milliseconds, not the 0.4 s of backtracking
# over every pair.
_SEG = r"[^;&|\n]*"
_FIRST = r"[^;&|\n]*?"
BUILTIN_DANGER: tuple[tuple[str, str], ...] = (
    (
        "rm -rf",
        rf"\brm\b(?={_SEG}\s(?:-[a-zA-Z]*[rR]|--recursive\b))"
        rf"(?={_SEG}\s(?:-[a-zA-Z]*f|--force\b))",
    ),
    (
        "git push --force",
        rf"\bgit\b(?>{_FIRST}\bpush\b)"
        rf"(?={_SEG}(?:\s--force(?:-with-lease)?\b|\s-[a-zA-Z]*f\b|\s\+\S))",
    ),
    ("git reset --hard", rf"\bgit\b(?>{_FIRST}\breset\b){_SEG}\s--hard\b"),
    ("git clean -f", rf"\bgit\b(?>{_FIRST}\bclean\b){_SEG}\s-[a-zA-Z]*f"),
    ("sudo", r"(?:^|[;&|(`]\s*|\s)sudo\s"),  # a backtick runs a command too
    (
        "a download piped to a shell",
        r"\b(?:curl|wget)\b[^;&\n]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b",
    ),
    ("mkfs", r"\bmkfs(?:\.\w+)?\b"),
    ("dd to a device", rf"\bdd\b{_SEG}\bof=/dev/"),
    ("chmod 777", rf"\bchmod\b{_SEG}\b0?777\b"),
    ("find -delete", rf"\bfind\b{_SEG}\s-delete\b"),
    ("DROP TABLE", r"(?i)\bdrop\s+(?:table|database|schema)\b"),
)
# Where a command may write without counting as "outside the project".
_SCRATCH = ("/tmp/", "/var/tmp/", "/dev/null", "/dev/stdout", "/dev/stderr")
# Shell redirections and tee into a file: the files a command writes.
_WRITES = re.compile(r"(?:>>?|\btee\b(?:\s+-a)?)\s*(['\"]?)([^\s'\";|&<>]+)\1")
# A bounce, or a fumbled double hit, is not a confirmation.
_BOUNCE = 0.15
# A press whose release never comes (a device unplugged mid-hold) is forgotten.
_HELD_AT_MOST = 60.0
_NOTE_SECONDS = 3.0
# 10.6 - 10.0 is 0.5999…: a hold of exactly the hold time counts.
_EPSILON = 1e-6


# No slots: ``patterns`` is cached on the instance (the options still compare by value).
@dataclass(frozen=True)
class AnswerOptions:
    """``[answers]``: what may be answered from a device, and how.

    :param allow_from_device: ``safe`` (default): Allow and Always from a device,
        except for a dangerous request; ``all``: any request, dangerous ones too
        (still with the deliberate gesture); ``none``: never (Deny, answers to
        questions and Stop still work).
    :param danger: more patterns (Python regular expressions) that make a command
        dangerous, added to the built-in ones.
    :param builtin_danger: use the built-in patterns (``rm -rf``, ``git push
        --force``, ``git reset --hard``, ``sudo``, ``curl … | sh``, …).
    :param outside_project: a request that writes a file outside the agent's
        project directory is dangerous (``/tmp`` does not count).
    :param hold: seconds an Allow or a Stop must be held (at least 0.6).
    :param confirm_within: seconds within which a second press on the same device
        confirms an Allow or a Stop (at most 3).
    """

    allow_from_device: AllowFrom = "safe"
    danger: tuple[str, ...] = ()
    builtin_danger: bool = True
    outside_project: bool = True
    hold: float = 0.6
    confirm_within: float = 3.0

    def __post_init__(self) -> None:
        if not 0.6 <= self.hold <= 5.0:
            raise ValueError(f"hold: got {self.hold!r}, expected seconds from 0.6 to 5")
        if not 1.0 <= self.confirm_within <= 3.0:
            raise ValueError(
                f"confirm_within: got {self.confirm_within!r}, expected seconds from 1 to 3"
            )
        for pattern in self.danger:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(
                    f"danger: {pattern!r} is not a regular expression: {err}"
                ) from None

    @cached_property
    def patterns(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        """(name, compiled) for every pattern in force; compiled on first use."""
        named = (*(BUILTIN_DANGER if self.builtin_danger else ()), *((p, p) for p in self.danger))
        return tuple((name, re.compile(rx)) for name, rx in named)


# -- the danger check ----------------------------------------------------------------


def danger_of(ask: Ask, options: AnswerOptions) -> str:
    """Why ``ask`` is dangerous, in a few words ("" when nothing says so)."""
    if ask.kind is not AskKind.PERMISSION:
        return ""
    if ask.risky:
        return ask.risky
    return _command_danger(ask.command or "", ask.paths, ask.cwd, options)


# Judged once per request, not on every publish of its source: every pattern over a
# 2,000-character command, for each of 32 held requests, at each of 50 hook events
# a second, would be the event loop's whole time.
@lru_cache(maxsize=512)
def _command_danger(
    command: str, paths: tuple[str, ...], cwd: str | None, options: AnswerOptions
) -> str:
    if command.endswith("…"):
        return "too long to check"
    for name, pattern in options.patterns:
        if pattern.search(command):
            return name
    if options.outside_project and cwd:
        written = [*paths, *(m.group(2) for m in _WRITES.finditer(command))]
        for path in written:
            if _outside(path, cwd):
                return "writes outside the project"
    return ""


def _outside(path: str, cwd: str) -> bool:
    if path.startswith(_SCRATCH) or path in _SCRATCH:
        return False
    if path.startswith("~") or path.startswith("$"):
        return True  # a home or a variable: not checkable here, so not trusted
    root = posixpath.normpath(cwd)
    full = posixpath.normpath(posixpath.join(root, path))
    return not (full == root or full.startswith(root.rstrip("/") + "/"))


def _locked(ask: Ask, danger: str, options: AnswerOptions) -> str:
    if not any(c.deliberate for c in ask.choices):
        return ""
    if options.allow_from_device == "none":
        return "approvals from devices are off"
    if options.allow_from_device == "safe" and danger:
        return f"dangerous ({danger})"
    return ""


def annotate_source(status: SourceStatus, options: AnswerOptions) -> SourceStatus:
    """``status`` with every open request's ``danger`` and ``locked`` filled in.

    Returns ``status`` itself when it holds no request (the common case costs a scan).
    """
    snap = status.snapshot
    if snap is None or not any(s.ask is not None for s in snap.sessions):
        return status
    sessions = tuple(_annotated(s, options) for s in snap.sessions)
    return replace(status, snapshot=replace(snap, sessions=sessions))


def annotate(status: AgentStatus, options: AnswerOptions) -> AgentStatus:
    """:func:`annotate_source` over a whole status (for tests and tools)."""
    sources = tuple(annotate_source(s, options) for s in status.sources)
    return AgentStatus.fold(sources) if sources != status.sources else status


def _annotated(session: Session, options: AnswerOptions) -> Session:
    ask = session.ask
    if ask is None:
        return session
    danger = danger_of(ask, options)
    locked = _locked(ask, danger, options)
    if ask.danger == danger and ask.locked == locked:
        return session
    return replace(session, ask=replace(ask, danger=danger, locked=locked))


def is_answer_action(action: str) -> bool:
    """Whether a press naming ``action`` is for the desk (answers, stop, navigation)."""
    return action in ASK_ACTIONS or action in NAVIGATION or action.startswith(ANSWER_PREFIX)


# -- the desk --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Armed:
    """A deliberate choice waiting for its gesture on one device.

    :param held: the control is still down (a hold under way since ``pressed_at``).
    :param until: a second press on the same device before this confirms.
    """

    device: str
    control: str
    ref: SessionRef
    ask_id: str
    action: str
    label: str
    pressed_at: float
    held: bool
    until: float

    def progress(self, now: float, hold: float) -> float:
        """How far the hold has come, 0 to 1 (0 once released)."""
        if not self.held:
            return 0.0
        return max(0.0, min(1.0, (now - self.pressed_at) / hold))


@dataclass(frozen=True, slots=True)
class Cursor:
    """The choice a pedal or a single button points at (``ask_next``)."""

    ref: SessionRef
    ask_id: str
    index: int


@dataclass(frozen=True, slots=True)
class Note:
    """What the desk last did for a session, shown briefly: "Allow sent", "refused: …"."""

    ref: SessionRef | None
    text: str
    until: float
    ok: bool = True
    device: str = ""


@dataclass(frozen=True, slots=True)
class DeskView:
    """What devices draw of the desk: holds under way, presses awaited, the cursor, notes."""

    armed: tuple[Armed, ...] = ()
    cursor: Cursor | None = None
    notes: tuple[Note, ...] = ()
    answered: frozenset[tuple[SessionRef, str]] = frozenset()
    hold: float = 0.6
    confirm_within: float = 3.0
    #: How this bridge's devices answer ("keys on Stream Deck deck"), for a line to say.
    ways: tuple[str, ...] = ()

    def armed_on(self, device: str) -> Armed | None:
        return next((a for a in self.armed if a.device == device), None)

    def note_for(self, ref: SessionRef) -> Note | None:
        return next((n for n in reversed(self.notes) if n.ref == ref), None)

    def is_answered(self, ref: SessionRef, ask_id: str) -> bool:
        return (ref, ask_id) in self.answered

    @property
    def holding(self) -> bool:
        return any(a.held for a in self.armed)


EMPTY_VIEW = DeskView()


@dataclass(frozen=True, slots=True)
class Decision:
    """A choice made on a device, for the source that owns the session.

    :param ask: the request answered (None for a stop).
    :param gesture: how it was made: ``press``, ``hold`` or ``second press``.
    """

    ref: SessionRef
    action: str
    label: str
    ask: Ask | None
    device: str
    control: str
    gesture: str
    at: float = field(default=0.0, compare=False)

    @property
    def kind(self) -> str:
        """``allow``, ``always``, ``deny``, ``answer``, ``dismiss`` or ``stop``."""
        if self.ask is None:
            return STOP
        if self.action == ChoiceKind.DISMISS.value:
            return self.action
        choice = self.ask.choice(self.action)
        return choice.kind.value if choice is not None else self.action


@dataclass(frozen=True, slots=True)
class Refusal:
    """A press the desk did not act on, and why (logged, and shown briefly)."""

    ref: SessionRef | None
    action: str
    reason: str
    device: str
    control: str


Outcome = Decision | Refusal


class Desk:
    """Presses in, decisions out (see the module's docstring). Pure: ``now`` is passed in.

    Times are the events' own (``InputEvent.t``, the device's clock: a hold is
    measured between its press and its release there) and ``now`` (the engine's
    clock) for what expires.
    """

    def __init__(self, options: AnswerOptions | None = None) -> None:
        self.options = options or AnswerOptions()
        self._armed: list[Armed] = []
        self._cursor: Cursor | None = None
        self._notes: list[Note] = []
        self._answered: set[tuple[SessionRef, str]] = set()
        self._view: DeskView | None = None

    # -- reading -------------------------------------------------------------------

    def view(self) -> DeskView:
        if self._view is None:
            self._view = DeskView(
                tuple(self._armed),
                self._cursor,
                tuple(self._notes),
                frozenset(self._answered),
                self.options.hold,
                self.options.confirm_within,
            )
        return self._view

    def next_change(self) -> float | None:
        """When the view next changes by itself (a window closes, a note goes)."""
        times = [a.until for a in self._armed if not a.held]
        times += [a.pressed_at + _HELD_AT_MOST for a in self._armed if a.held]
        times += [n.until for n in self._notes]
        return min(times, default=None)

    # -- changes -------------------------------------------------------------------

    def set_options(self, options: AnswerOptions) -> None:
        self.options = options
        self._changed()

    def expire(self, now: float) -> bool:
        """Drop what is over at ``now``; True when the view changed."""
        armed = [
            a
            for a in self._armed
            if (a.held and now - a.pressed_at < _HELD_AT_MOST) or (not a.held and a.until > now)
        ]
        notes = [n for n in self._notes if n.until > now]
        if len(armed) == len(self._armed) and len(notes) == len(self._notes):
            return False
        self._armed, self._notes = armed, notes
        self._changed()
        return True

    def sync(self, status: AgentStatus) -> bool:
        """Forget what refers to requests no longer open; True when the view changed."""
        open_asks = {(s.ref, s.ask.id) for s in status.sessions if s.ask is not None}
        stoppable = {s.ref for s in status.sessions if s.stoppable}

        def still(ref: SessionRef, ask_id: str) -> bool:
            return (ref, ask_id) in open_asks if ask_id else ref in stoppable

        armed = [a for a in self._armed if still(a.ref, a.ask_id)]
        answered = {k for k in self._answered if k in open_asks}
        cursor = self._cursor
        if cursor is not None and (cursor.ref, cursor.ask_id) not in open_asks:
            cursor = None
        if len(armed) == len(self._armed) and answered == self._answered and cursor == self._cursor:
            return False
        self._armed, self._answered, self._cursor = armed, answered, cursor
        self._changed()
        return True

    def failed(self, decision: Decision, reason: str, now: float) -> None:
        """The source could not carry ``decision`` out: offer the request again, say why."""
        if decision.ask is not None:
            self._answered.discard((decision.ref, decision.ask.id))
        self._note(decision.ref, f"not sent: {reason}", now, ok=False, device=decision.device)

    def feed(self, event: InputEvent, status: AgentStatus, now: float) -> list[Outcome]:
        """What a press or release means; the desk's state moves on accordingly."""
        self.expire(now)
        t = event.t if event.t > 0 else now
        if not event.pressed:
            return self._release(event, status, t, now)
        action = event.target.name
        if action in NAVIGATION:
            return self._navigate(event, action, status, t, now)
        if not is_answer_action(action):
            return []
        ref = self._ref_for(event, action, status)
        return self._press(event, action, ref, status, t, now, ask_id=event.target.ask or None)

    # -- presses -------------------------------------------------------------------

    def _press(
        self,
        event: InputEvent,
        action: str,
        ref: SessionRef | None,
        status: AgentStatus,
        t: float,
        now: float,
        *,
        ask_id: str | None = None,
    ) -> list[Outcome]:
        checked = self._check(ref, action, status, ask_id=None if action == STOP else ask_id)
        if isinstance(checked, str):
            if not checked:
                return []  # already answered: a repeat press does nothing
            return [self._refuse(ref, action, checked, event, now)]
        session, label = checked
        ask = session.ask if action != STOP else None
        deliberate = action == STOP or (ask is not None and _deliberate(ask, action))
        if not deliberate:
            return [self._decide(session.ref, action, label, ask, event, "press", t)]
        ask_id = ask.id if ask is not None else ""
        mine = next((a for a in self._armed if a.device == event.device), None)
        if (
            mine is not None
            and (mine.ref, mine.ask_id, mine.action) == (session.ref, ask_id, action)
            and mine.pressed_at + _BOUNCE <= t <= mine.until
        ):
            return [self._decide(session.ref, action, label, ask, event, "second press", t)]
        # One choice armed per device: a press on another one starts over.
        self._armed = [a for a in self._armed if a.device != event.device]
        self._armed.append(
            Armed(
                event.device,
                event.control,
                session.ref,
                ask_id,
                action,
                label,
                t,
                True,
                t + self.options.confirm_within,
            )
        )
        self._changed()
        return []

    def _release(
        self, event: InputEvent, status: AgentStatus, t: float, now: float
    ) -> list[Outcome]:
        key = (event.device, event.control)
        armed = next((a for a in self._armed if a.held and (a.device, a.control) == key), None)
        if armed is None:
            return []
        if t - armed.pressed_at >= self.options.hold - _EPSILON:
            checked = self._check(armed.ref, armed.action, status, ask_id=armed.ask_id)
            if isinstance(checked, str):
                self._armed.remove(armed)
                self._changed()
                if not checked:
                    return []
                return [self._refuse(armed.ref, armed.action, checked, event, now)]
            session, label = checked
            ask = session.ask if armed.action != STOP else None
            return [self._decide(session.ref, armed.action, label, ask, event, "hold", t)]
        # Too short for a hold: it stays armed for a second press.
        self._armed[self._armed.index(armed)] = replace(armed, held=False)
        self._changed()
        return []

    def _navigate(
        self, event: InputEvent, action: str, status: AgentStatus, t: float, now: float
    ) -> list[Outcome]:
        waiting = [s for s in status.sessions if s.ask is not None and s.ask.answerable]
        if not waiting:
            return []
        cursor = self._cursor
        current = _at_cursor(status, cursor)
        if action == ASK_FIRST or cursor is None or current is None:
            session = _preferred(waiting, event.target.session)
            assert session.ask is not None
            self._set_cursor(Cursor(session.ref, session.ask.id, 0))
            return []
        ask = current.ask
        assert ask is not None
        if action == ASK_NEXT:
            self._set_cursor(replace(cursor, index=(cursor.index + 1) % len(ask.choices)))
            return []
        choice = ask.choices[cursor.index % len(ask.choices)]
        return self._press(event, choice.id, current.ref, status, t, now)

    # -- helpers -------------------------------------------------------------------

    def _ref_for(self, event: InputEvent, action: str, status: AgentStatus) -> SessionRef | None:
        """The session a press is for: the one its control showed, else the first that
        can take ``action`` (a pedal or a button that shows no session)."""
        target = event.target
        if target.session is not None:
            return target.session
        for session in status.sessions:
            if action == STOP:
                if session.stoppable:
                    return session.ref
            elif session.ask is not None and session.ask.choice(action) is not None:
                return session.ref
        return None

    def _check(
        self, ref: SessionRef | None, action: str, status: AgentStatus, *, ask_id: str | None = None
    ) -> tuple[Session, str] | str:
        """(session, the choice's label) when ``action`` may be done now; else why not
        ("" for a request already answered, which is not worth a word)."""
        session = status.find(ref) if ref is not None else None
        if session is None:
            return "nothing to answer here" if ref is None else "that session has gone"
        if action == STOP:
            if not session.stoppable:
                return "this session cannot be stopped from here"
            return session, "Stop"
        ask = session.ask
        if ask is None or (ask_id is not None and ask.id != ask_id):
            return "nothing to answer (the request has gone)"
        if (session.ref, ask.id) in self._answered:
            return ""
        if action == ChoiceKind.DISMISS.value:
            # Always possible, listed or not: the device stops offering the request.
            return session, "Dismissed"
        if ask.where:
            return f"answer {ask.where}"
        choice = ask.choice(action)
        if choice is None:
            return f"{action!r} is not a choice of this request"
        if choice.deliberate and ask.locked:
            return f"{ask.locked}: answer it on the keyboard"
        return session, choice.label

    def _decide(
        self,
        ref: SessionRef,
        action: str,
        label: str,
        ask: Ask | None,
        event: InputEvent,
        gesture: str,
        t: float,
    ) -> Decision:
        ask_id = ask.id if ask is not None else ""
        self._armed = [a for a in self._armed if (a.ref, a.ask_id) != (ref, ask_id)]
        if ask is not None:
            self._answered.add((ref, ask.id))
            if self._cursor is not None and self._cursor.ref == ref:
                self._cursor = None
        self._note(ref, f"{label} sent", t, device=event.device)
        return Decision(ref, action, label, ask, event.device, event.control, gesture, t)

    def _refuse(
        self, ref: SessionRef | None, action: str, reason: str, event: InputEvent, now: float
    ) -> Refusal:
        self._note(ref, reason, now, ok=False, device=event.device)
        return Refusal(ref, action, reason, event.device, event.control)

    def _note(
        self, ref: SessionRef | None, text: str, now: float, *, ok: bool = True, device: str = ""
    ) -> None:
        self._notes = [n for n in self._notes if n.ref != ref][-7:]
        self._notes.append(Note(ref, text, now + _NOTE_SECONDS, ok, device))
        self._changed()

    def _set_cursor(self, cursor: Cursor) -> None:
        self._cursor = cursor
        self._changed()

    def _changed(self) -> None:
        self._view = None


# -- the log's words -------------------------------------------------------------------


def _what(ref: SessionRef | None, ask: Ask | None) -> str:
    where = clean(str(ref), 120) if ref is not None else "no session"
    if ask is None:
        return f"{where} run"
    return f"{where} {ask.kind.value} {clean(ask.summary(), 200)}"


def describe_decision(decision: Decision) -> str:
    """One log line's worth: session, request (tool and sanitised command), choice, control."""
    return (
        f"{_what(decision.ref, decision.ask)} -> {clean(decision.label, 80)} "
        f"({decision.gesture} on {clean(decision.device, 40)} {clean(decision.control, 40)})"
    )


def describe_refusal(refusal: Refusal, status: AgentStatus) -> str:
    session = status.find(refusal.ref) if refusal.ref is not None else None
    ask = session.ask if session is not None and refusal.action != STOP else None
    return (
        f"{_what(refusal.ref, ask)}: {clean(refusal.action, 40)} from "
        f"{clean(refusal.device, 40)} {clean(refusal.control, 40)}: {refusal.reason}"
    )


def _deliberate(ask: Ask, action: str) -> bool:
    choice = ask.choice(action)
    return choice is not None and choice.deliberate


def _at_cursor(status: AgentStatus, cursor: Cursor | None) -> Session | None:
    """The session the cursor points at, while its request is the one it pointed at."""
    if cursor is None:
        return None
    session = status.find(cursor.ref)
    if session is None or session.ask is None or session.ask.id != cursor.ask_id:
        return None
    return session


def _preferred(waiting: list[Session], shown: SessionRef | None) -> Session:
    """The session a pedal goes to first: the one in focus, else the first waiting."""
    return next((s for s in waiting if s.ref == shown), waiting[0])
