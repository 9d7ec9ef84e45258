"""What the API serves and reads: the status with its looks, health, and input.

The status document is :mod:`bridge.pipeline.status_json`'s (version 1, the same
as ``agentlight status --json`` and the MQTT ``status`` topic) with four keys
added, which readers of that format skip (they accept unknown keys):

- ``look`` at the top: the global state's look under the current theme;
- ``look`` in each session: that session's look;
- ``focus``: the session a one-light device shows (``{"source", "key"}``), or
  null when it shows the global look;
- ``answers``: the deliberate gesture an Allow or a Stop needs (``{"hold": s,
  "confirm_within": s}``, the ``[answers]`` table's), so a client's key can show a
  hold's progress as agentlight measures it.

A look is ``{"color": "#rrggbb", "effect": "solid|off|blink|pulse", "period": s,
"brightness": 0-1, "label": "…", "text": "…", "icon": "…", "since": wall time}``:
what a client needs to draw what the bridge's own devices show, without a copy
of the theme (``since`` is when the look began, so a blink keeps its phase).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bridge import __version__
from bridge.api import API_VERSION, INPUT_DEVICE
from bridge.pipeline.answers import AnswerOptions
from bridge.pipeline.inputs import GLOBAL, InputEvent, Target
from bridge.pipeline.looks import Look
from bridge.pipeline.mapping import Mapped, select
from bridge.pipeline.model import AgentStatus, SessionRef
from bridge.pipeline.status_json import status_to_json
from bridge.text.textsafe import safe_json

# What a client may name: an action (``dismiss``, ``page_next``, an answer's name)
# or its own control (``key:3``). Anything else is refused, not cleaned: these
# names reach sources and their log lines.
_NAME = re.compile(r"[A-Za-z0-9_.:/+-]{1,64}")
_INPUT_KEYS = frozenset({"target", "source", "key", "action", "control", "pressed", "ask"})


def look_to_json(look: Look, since_wall: float) -> dict[str, Any]:
    return {
        "color": look.color.hex,
        "effect": look.effect.value,
        "period": look.period,
        "brightness": look.brightness,
        "label": look.label,
        "text": look.text,
        "icon": look.icon,
        "since": round(since_wall, 3),
    }


def status_document(
    mapped: Mapped, now_wall: float, now_mono: float, answers: AnswerOptions | None = None
) -> dict[str, Any]:
    """The status of ``mapped`` with its looks; ``now_mono`` is the engine's clock."""

    def wall(since: float) -> float:
        return now_wall - max(0.0, now_mono - since)

    doc = status_to_json(mapped.status, now_wall)
    # status_to_json lists the sessions in the status's order, as the mapping does.
    for item, m in zip(doc["sessions"], mapped.sessions, strict=True):
        item["look"] = look_to_json(m.look, wall(m.since))
    doc["look"] = look_to_json(mapped.global_look, wall(mapped.global_since))
    _, _, focus = select(mapped, "session")
    doc["focus"] = None if focus is None else {"source": focus.source, "key": focus.key}
    gesture = answers or AnswerOptions()
    doc["answers"] = {"hold": gesture.hold, "confirm_within": gesture.confirm_within}
    return doc


def encode(doc: dict[str, Any]) -> bytes:
    """One line of JSON (an SSE ``data:`` line needs one), safe to ``tail`` as well."""
    return safe_json(doc, separators=(",", ":")).encode("utf-8")


def health_document(
    status: AgentStatus, devices: dict[str, tuple[bool, str | None]], uptime: float, pid: int
) -> dict[str, Any]:
    """Whether agentlight runs, and whether it can see the agent: for a client to tell
    "agentlight is not running" (no answer) from "agentlight cannot see the agent"."""
    return {
        "version": __version__,
        "api": API_VERSION,
        "pid": pid,
        "uptime": round(uptime, 3),
        "global": status.state.value,
        "sources": [
            {
                "name": s.name,
                "connection": s.connection.value,
                "state": s.global_state.value,
                "detail": s.detail,
            }
            for s in status.sources
        ],
        "devices": [
            {"name": name, "healthy": healthy, "detail": detail}
            for name, (healthy, detail) in devices.items()
        ],
    }


@dataclass(frozen=True, slots=True)
class InputError(Exception):
    """A request to ``/v1/input`` that cannot be a press: the HTTP status and why."""

    status: int
    message: str

    def __str__(self) -> str:
        return self.message


def input_event(body: object, status: AgentStatus, now: float) -> InputEvent:
    """The press that ``body`` (parsed JSON) describes, with the same meaning as a
    device's :class:`InputEvent`::

        {"target": "global"}
        {"target": "session", "source": "pocketpaw", "key": "websocket:abc"}
        {"target": "session", "source": "agp", "key": "trj_1", "action": "dismiss"}
        {"target": "control", "action": "page_next"}

    ``action`` names what the press does (a control's name, as a deck's key
    configured with ``actions`` sends it, or an answer: ``allow``, ``deny``,
    ``answer:2``…); ``control`` names the client's own control (default ``api``);
    ``pressed`` is false for a release (default true); ``ask`` (optional) is the id
    of the request (``sessions[].ask.id``) an answer is for, so it never answers
    one that replaced it. A session must be one the bridge shows now.

    :raises InputError: 400 for a malformed body, 404 for an unknown session.
    """
    if not isinstance(body, dict):
        raise InputError(400, "expected a JSON object")
    unknown = sorted(str(k) for k in body if k not in _INPUT_KEYS)
    if unknown:
        names = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise InputError(400, f"unknown key(s) {names}; expected {', '.join(sorted(_INPUT_KEYS))}")
    kind = body.get("target")
    if kind not in ("global", "session", "control"):
        raise InputError(400, 'target: expected "global", "session" or "control"')
    action = _name(body, "action", required=kind == "control")
    control = _name(body, "control") or INPUT_DEVICE
    pressed = body.get("pressed", True)
    if not isinstance(pressed, bool):
        raise InputError(400, "pressed: expected true or false")
    ref = _session(body, status, required=kind == "session")
    ask = _name(body, "ask")
    if kind == "global":
        if ref is not None:
            raise InputError(400, 'source/key: not with target "global"')
        target = GLOBAL if not action and not ask else Target("global", None, action, ask)
    else:
        target = Target(kind, ref, action, ask)
    return InputEvent(INPUT_DEVICE, control, pressed, target, now)


def _name(body: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise InputError(400, f"{key}: required")
        return ""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InputError(400, f"{key}: expected 1-64 of A-Z a-z 0-9 _ . : / + -")
    return value


def _session(body: dict[str, Any], status: AgentStatus, *, required: bool) -> SessionRef | None:
    source, key = body.get("source"), body.get("key")
    if source is None and key is None:
        if required:
            raise InputError(400, "source and key: required for a session")
        return None
    if not isinstance(source, str) or not isinstance(key, str):
        raise InputError(400, "source and key: expected two strings")
    for session in status.sessions:
        if session.source == source and session.key == key:
            # The bridge's own reference: what reaches sources is what they published.
            return session.ref
    raise InputError(404, "no such session (source and key as /v1/status lists them)")


__all__ = [
    "InputError",
    "encode",
    "health_document",
    "input_event",
    "look_to_json",
    "status_document",
]
