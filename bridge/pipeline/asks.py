"""Making and reading open requests (``Session.ask``): choices, texts, commands made safe.

The data (:class:`Ask`, :class:`Choice`) is part of the model (:mod:`bridge.pipeline.model`)
and re-exported here, with the helpers sources use to build it.

A source that can act on a session puts an :class:`Ask` on it (``Session.ask``)
while the agent waits for the user: PocketPaw's ``ask_user_question`` with its
options, a coding agent's held permission request with Allow and Deny. Devices
show the choices; a press names one by its action (``Choice.id``: ``allow``,
``deny``, ``always``, ``answer:2``, ``dismiss``), the same name a deck key, the
API (``POST /v1/input`` with ``action``) or an MQTT command carries.

Nothing here decides whether a choice may be made from a device: that is
:mod:`bridge.pipeline.answers` (the rules, the gestures), which also fills in
``danger`` and ``locked`` when the engine folds the status. No I/O here.
"""

from __future__ import annotations

import re

from bridge.pipeline.model import (
    ANSWER_PREFIX,
    DELIBERATE,
    STOP,
    Ask,
    AskKind,
    Choice,
    ChoiceKind,
)
from bridge.text.textsafe import clean

__all__ = [
    "ANSWER_PREFIX",
    "ASK_ACTIONS",
    "DELIBERATE",
    "STOP",
    "Ask",
    "AskKind",
    "Choice",
    "ChoiceKind",
    "answer_choices",
    "permission_choices",
    "sanitise",
]

#: Most options a question offers on a device (more are cut; the agent's own UI has them).
MAX_OPTIONS = 9
_TEXT = 500
_LABEL = 80
# Long enough to check a real command whole; a longer one is cut and counts as dangerous.
_COMMAND = 2000


#: Every action name that answers an ask (``answer:N`` aside) or stops a run.
ASK_ACTIONS = frozenset({*(k.value for k in ChoiceKind if k is not ChoiceKind.ANSWER), STOP})


def permission_choices(*, always: bool = False) -> tuple[Choice, ...]:
    """Allow, (Always,) Deny: the choices of a permission request."""
    allow = Choice("allow", "Allow", ChoiceKind.ALLOW)
    deny = Choice("deny", "Deny", ChoiceKind.DENY)
    if always:
        return (allow, Choice("always", "Always", ChoiceKind.ALWAYS), deny)
    return (allow, deny)


def answer_choices(labels: list[str] | tuple[str, ...]) -> tuple[Choice, ...]:
    """A question's options as ``answer:1``… (at most :data:`MAX_OPTIONS`), cleaned."""
    return tuple(
        Choice(f"{ANSWER_PREFIX}{i}", clean(" ".join(label.split()), _LABEL), ChoiceKind.ANSWER)
        for i, label in enumerate(labels[:MAX_OPTIONS], start=1)
    )


def ask_text(text: object) -> str:
    """A question or request text as a device shows it: one line, cleaned, bounded."""
    return clean(" ".join(str(text).split()), _TEXT)


# A secret in a command line: a NAME=value whose name says so, a bearer token, a
# password in a URL, a --password/--token option's value. Each runs in linear time
# on any text (a command is a hook payload's, any local process's): the name is
# read possessively and judged apart (`[A-Z0-9_]*(?:TOKEN|…)[A-Z0-9_]*=` backtracked
# over "TOKEN" * 12,000 for 20 s), URL schemes and userinfo are bounded (`a.` * 30,000
# took 31 s), and a value, once begun, always matches (no lookahead to fail on).
# Masking never hides what runs: an unquoted value ends where the shell ends it
# (; & | < > or a space), and one that runs a command (``$(…)`` or a backtick, outside
# single quotes) is shown, so ``TOKEN=a;rm -rf ~`` and ``AUTH="$(curl … | sh)"`` show
# what runs, to the user and to the danger check, which reads the shown command.
_VALUE = r"(\"[^\"]*\"|'[^']*'|[^\s;&|<>]+)"
_SECRET_ASSIGN = re.compile(r"(?i)\b([A-Z0-9_]++)=" + _VALUE)
_SECRET_NAME = re.compile(r"(?i)TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|AUTH")
_SECRET_BEARER = re.compile(r"(?i)\b(bearer|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_SECRET_URL = re.compile(
    r"(?i)(\b[a-z][a-z0-9+.-]{0,31}://)[^/\s:@;&|<>()`$]{1,256}:[^/\s@;&|<>()`$]{1,256}@"
)
_SECRET_OPTION = re.compile(r"(?i)(--?(?:password|passwd|token|secret|api-?key)(?:=|\s+))" + _VALUE)


def _runs(value: str) -> bool:
    """Whether a shell runs a command to get ``value`` (not in single quotes: literal)."""
    return not value.startswith("'") and ("$(" in value or "`" in value)


def sanitise(command: object, limit: int = _COMMAND) -> str:
    """A command as it may be shown and logged: secrets masked, controls escaped, bounded.

    ``curl -H "Authorization: Bearer abc…"`` becomes ``… Bearer ***``; ``API_KEY=x cmd``
    becomes ``API_KEY=*** cmd``; ``https://user:pw@host`` becomes ``https://***@host``.
    """
    # What is shown is at most ``limit`` characters: eight times that is read, so a
    # megabyte costs what a long command does.
    text = " ".join(str(command)[: limit * 8].split())
    text = _SECRET_ASSIGN.sub(
        lambda m: (
            f"{m.group(1)}=***"
            if _SECRET_NAME.search(m.group(1)) and not _runs(m.group(2))
            else m.group(0)
        ),
        text,
    )
    text = _SECRET_OPTION.sub(
        lambda m: m.group(0) if _runs(m.group(2)) else f"{m.group(1)}***", text
    )
    text = _SECRET_BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    text = _SECRET_URL.sub(lambda m: f"{m.group(1)}***@", text)
    return clean(text, limit)
