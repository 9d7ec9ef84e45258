"""Commands on ``<prefix>/command``: a press from MQTT (Home Assistant's buttons, a script).

Refused unless the ``mqtt`` device sets ``allow_commands = true``: anyone who may
publish to that topic on the broker can then answer what waits (the rules of
``[answers]`` still apply, and an Allow or a Stop still needs its second press
within the window, as a message has no release). A payload is either an action
name, or a JSON object with the same keys as the local API's ``POST /v1/input``::

    deny
    {"action": "allow"}
    {"action": "answer:2", "source": "pocketpaw", "key": "websocket:abc"}

Without ``source``/``key`` the press goes to the first waiting request that
offers the action. Anything else is refused with one log line. No I/O here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bridge.pipeline.answers import is_answer_action
from bridge.pipeline.model import SessionRef

__all__ = ["MAX_COMMAND_BYTES", "Command", "parse_command"]

#: Larger payloads are refused unread.
MAX_COMMAND_BYTES = 1024
_NAME = re.compile(r"[A-Za-z0-9_.:/+-]{1,64}")
_KEYS = frozenset({"action", "source", "key", "pressed", "ask"})


@dataclass(frozen=True, slots=True)
class Command:
    action: str
    session: SessionRef | None = None
    pressed: bool = True
    ask: str = ""


def parse_command(payload: bytes) -> Command:
    """The press ``payload`` asks for.

    :raises ValueError: why it is not one (said in the log, never echoing a secret).
    """
    if len(payload) > MAX_COMMAND_BYTES:
        raise ValueError(f"over {MAX_COMMAND_BYTES} bytes")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not text.startswith("{"):
        return Command(_action(text))
    try:
        body = json.loads(text)
    except ValueError:
        raise ValueError("not an action name nor a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(str(k)[:20] for k in body if k not in _KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown[:5])}")
    action = _action(body.get("action"))
    source, key = body.get("source"), body.get("key")
    session = None
    if source is not None or key is not None:
        if not isinstance(source, str) or not isinstance(key, str) or not source or not key:
            raise ValueError("source and key: expected two strings")
        session = SessionRef(source[:256], key[:256])
    pressed = body.get("pressed", True)
    if not isinstance(pressed, bool):
        raise ValueError("pressed: expected true or false")
    ask = body.get("ask", "")
    if not isinstance(ask, str) or (ask and not _NAME.fullmatch(ask)):
        raise ValueError("ask: expected a request's id")
    return Command(action, session, pressed, ask)


def _action(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError("action: expected 1-64 of A-Z a-z 0-9 _ . : / + -")
    if not is_answer_action(value):
        raise ValueError(
            f"action {value!r}: expected allow, deny, always, dismiss, stop, answer:N, "
            "ask_first, ask_next or ask_confirm"
        )
    return value
