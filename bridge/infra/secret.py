"""A string that never shows itself in logs, errors or reprs, and text scrubbed of secrets.

:func:`redact_text` is what every config error, ``check`` line and log line goes
through (``ConfigError``, ``bridge.infra.validate.describe``, the log formatter,
``agentlight check``): a password may be pasted into any field, not only the
URL-typed ones, so any ``scheme://user:pass@``, any bare ``user:pass@host`` and
the value of any :class:`Secret` made so far (eight characters or more, not a short
word of letters alone) is replaced.
"""

from __future__ import annotations

import re
import threading

#: Values of every Secret made in this process (the configured keys, tokens and
#: passwords), redacted wherever they turn up: 8 characters or more, and not a short
#: word of letters alone, which would blank ordinary words ("password") and
#: numbers in every log line.
_KNOWN: set[str] = set()
_MIN_KNOWN = 8
_MIN_WORD = 16
_known_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()  # configs are read on a thread too (a reload)

# userinfo after a scheme (anything before "@" in the authority), and a bare
# "user:password@host" (a colon before the "@", a host after it). Linear in the
# text, as every log line goes through them: the scheme is at most 32 characters
# (`a.` * 32,000 took 19 s, each "." a new start scanning to the end), and a bare
# userinfo is found as a whole run of authority characters ending in "@" before a
# host, started only where such a run starts, then the user part looked for in it
# (`a:` * 32,000 took 13 s); the same matches as the plain patterns.
_SCHEME_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}://)[^\s/?#@'\"]*+@")
_AUTHORITY_RUN = re.compile(r"(?<![^\s/?#@'\"])[^\s/?#@'\"]++@(?=[\w\[])")
_USER = re.compile(r"(?<![\w.%+-])[\w.%+-]++:")


def _bare_userinfo(match: re.Match[str]) -> str:
    """A run ``…user:password@``: what precedes the user part, then ``***@``."""
    run = match.group(0)
    user = _USER.search(run)
    return run if user is None else run[: user.start()] + "***@"


class Secret:
    """Holds a credential. ``str()``, ``repr()`` and f-strings print ``***``.

    Use :meth:`reveal` only where the value goes on the wire. Its value is also
    redacted by :func:`redact_text` wherever else it turns up.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        global _known_pattern
        text = value.strip() if isinstance(value, str) else ""
        if _worth_knowing(text) and text not in _KNOWN:
            with _lock:
                _KNOWN.add(text)
                _known_pattern = None

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def redact_url(url: str) -> str:
    """``url`` with its userinfo and query values replaced, however malformed it is.

    ``htp://user:PASSWORD@host`` → ``htp://***@host``; ``http:/h?key=K`` →
    ``http:/h?key=***``. It never parses strictly (a URL shown in an error is
    one that failed to parse), so anything that could be a credential goes: all
    before the last ``@`` of the authority, every query value, and the fragment.
    """
    head, q, query = url.partition("?")
    head, h, fragment = head.partition("#")
    if not q and h:  # "#frag" without a query
        query = ""
    elif q:
        query, _, fragment_q = query.partition("#")
        h = h or ("#" if fragment_q else "")
        fragment = fragment or fragment_q
    at = head.rfind("@")
    if at >= 0:
        scheme_end = head.find(":")
        # The authority starts after "scheme:" and its slashes, or at the start.
        start = 0
        scheme = head[:scheme_end].replace("+", "").replace("-", "").replace(".", "")
        if 0 < scheme_end < at and scheme.isalnum() and head[scheme_end + 1 : at][:1] == "/":
            start = scheme_end + 1
        while start < at and head[start] == "/":
            start += 1
        head = head[:start] + "***" + head[at:]
    out = head
    if q:
        parts = []
        for part in query.replace(";", "&").split("&"):
            name, eq, _value = part.partition("=")
            parts.append(f"{name}=***" if eq else ("***" if part else ""))
        out += "?" + "&".join(parts)
    if h:
        out += "#***" if fragment else "#"
    return out


def _worth_knowing(text: str) -> bool:
    return len(text) >= _MIN_KNOWN and (len(text) >= _MIN_WORD or not text.isalpha())


def redact_text(text: str) -> str:
    """``text`` with userinfo (``scheme://u:p@``, ``u:p@host``) and known secrets as ``***``."""
    global _known_pattern
    if "@" in text:
        text = _SCHEME_USERINFO.sub(r"\1***@", text)
        text = _AUTHORITY_RUN.sub(_bare_userinfo, text)
    if _KNOWN:
        pattern = _known_pattern
        if pattern is None:
            with _lock:
                # Longest first, so a secret that contains another goes whole.
                alternatives = sorted(_KNOWN, key=len, reverse=True)
                pattern = _known_pattern = re.compile("|".join(map(re.escape, alternatives)))
        text = pattern.sub("***", text)
    return text
