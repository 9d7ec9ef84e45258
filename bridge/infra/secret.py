"""A string that never shows itself in logs, errors or reprs."""

from __future__ import annotations


class Secret:
    """Holds a credential. ``str()``, ``repr()`` and f-strings print ``***``.

    Use :meth:`reveal` only where the value goes on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

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
