"""Who may use the API, and how much: the rules, apart from the HTTP library.

The API is reachable from every process on the machine, including every web page
the user's browser opens: a page can send requests to ``http://127.0.0.1:PORT``,
and with DNS rebinding (a name of the attacker's that first resolves to their
server, then to 127.0.0.1) it can read the replies too. So:

- ``Host`` must name the address the API listens on (an IP address, ``localhost``
  on loopback, or a name in ``allow_hosts``): a rebinding page sends its own name.
- A request with an ``Origin`` (browsers add it to cross-site requests; curl,
  scripts and hooks send none) is refused unless that origin is in
  ``allow_origins``; so is one whose ``Sec-Fetch-Site`` says another site made
  it (an ``<img>`` or a form, which carry no ``Origin`` on a GET).
- A POST must say ``Content-Type: application/json``: a page can only send that
  cross-site after a CORS preflight, and the preflight is refused.
- With a token (required when listening beyond loopback), every request needs
  ``Authorization: Bearer <token>``, compared in constant time. ``POST
  /v1/input`` always needs one: without a configured token it is the run's own,
  written only to the discovery file (mode 0600), so only the user's own
  processes can press keys.

Refusals are counted and logged one line per kind per minute, never per request.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bridge.api.options import ApiOptions
from bridge.infra.secret import Secret
from bridge.text.textsafe import clean

#: Paths whose POST presses keys: they always need a token.
INPUT_PATHS = frozenset({"/v1/input"})


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: its HTTP status, the client's message and the log's kind."""

    status: int
    message: str
    kind: str
    headers: tuple[tuple[str, str], ...] = ()


class Guard:
    """The request rules for one running API (its options and the port it got).

    :param token: required on every request when set.
    :param input_token: required on ``POST /v1/input``: ``token`` when set, else
        the run's own (from the discovery file).
    """

    def __init__(
        self, options: ApiOptions, port: int, token: Secret | None, input_token: Secret
    ) -> None:
        self.options = options
        self.port = port
        self._token = token
        self._input_token = input_token
        self._address = ipaddress.ip_address(options.host)
        self._hosts = frozenset(options.allow_hosts)
        self._origins = frozenset(options.allow_origins)

    def origin_allowed(self, origin: str | None) -> bool:
        return origin is not None and origin.lower() in self._origins

    def check(
        self, method: str, path: str, headers: Mapping[str, str], target: str | None = None
    ) -> Refusal | None:
        """None when the request may go on, else why not (checked in this order).

        :param target: the host (and port) of an absolute-form request target
            (``GET http://host:port/v1/status``), which HTTP takes over ``Host``.
        """
        if not self.host_ok(headers.get("Host")) or not (target is None or self.host_ok(target)):
            return Refusal(403, "Host is not this API's address (DNS rebinding?)", "host")
        origin = headers.get("Origin")
        if origin is not None and not self.origin_allowed(origin):
            return Refusal(403, "requests from web pages are refused (Origin)", "origin")
        site = headers.get("Sec-Fetch-Site")
        if site not in (None, "same-origin", "none") and not self.origin_allowed(origin):
            return Refusal(403, "requests from web pages are refused (Sec-Fetch-Site)", "origin")
        if method == "OPTIONS":
            return None  # a preflight from an allowed origin: answered without a token
        needed = self._token
        if needed is None and method == "POST" and path in INPUT_PATHS:
            needed = self._input_token
        if needed is not None and not _bearer_ok(headers.get("Authorization"), needed):
            return Refusal(
                401,
                "a token is required: Authorization: Bearer <token>",
                "token",
                (("WWW-Authenticate", 'Bearer realm="agentlight"'),),
            )
        if method == "POST" and not _is_json(headers.get("Content-Type")):
            return Refusal(415, "POST needs Content-Type: application/json", "content-type")
        return None

    def host_ok(self, host: str | None) -> bool:
        """Whether ``Host`` names this API: its port, and its address or a name for it."""
        if not host:
            return False
        name, port = _split_host(host.strip().lower())
        if port != self.port or not name:
            return False
        if name in self._hosts:
            return True
        listen = self._address
        wildcard = listen.is_unspecified
        if name == "localhost":
            return listen.is_loopback or wildcard
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False  # a name we were not told about: what a rebinding page sends
        if wildcard or address == listen:
            return True
        return listen.is_loopback and address.is_loopback


def _split_host(host: str) -> tuple[str, int]:
    """``Host`` → (host name, port); a missing port is 80 (what the client meant)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ("80" if not rest else "x")
    else:
        name, sep, port = host.rpartition(":")
        if not sep:
            name, port = host, "80"
    return (name, int(port)) if port.isdigit() and len(port) <= 5 else ("", -1)


def _bearer_ok(header: str | None, token: Secret) -> bool:
    if not header:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    try:
        # The header's bytes as sent: aiohttp hands bytes that are not UTF-8 over
        # as lone surrogates, which a plain encode() refused with a 500.
        sent = given.strip().encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    # Constant time: how much of a guess was right must not show in the timing.
    return hmac.compare_digest(sent, token.reveal().encode())


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json"


class RateLimit:
    """A token bucket per client address: ``rate`` requests a second after ``burst``.

    At most ``max_peers`` addresses are remembered (the least recently seen goes
    first), so a client cycling through addresses cannot grow memory. On loopback
    every local process has the same address: the limit is for all of them together
    (the server keeps requests it refuses in a bucket of their own, so a web page's
    refused requests cannot use it up).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_peers: int = 1024,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._max = max_peers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, peer: str) -> bool:
        now = self._clock()
        tokens, last = self._buckets.pop(peer, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[peer] = (tokens, now)
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, peer: str) -> int:
        """Whole seconds until ``peer`` may send again (for ``Retry-After``)."""
        tokens, _ = self._buckets.get(peer, (self.burst, 0.0))
        return max(1, int((1.0 - tokens) / self.rate + 0.999))

    def __len__(self) -> int:
        return len(self._buckets)


class Complaints:
    """One log line per kind of refusal per ``quiet`` seconds, with the count since.

    A flood of bad requests costs the log one line a minute, not one per request;
    the kinds are a fixed handful (never a client's text), so this stays small.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        quiet: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._quiet = quiet
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def note(self, kind: str, message: str, *args: object) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self._quiet:
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        held = self._held.pop(kind, 0)
        self._last[kind] = now
        more = f" ({held} more since the last line)" if held else ""
        self._log.warning(message + "%s", *args, more)


def peer_text(value: object) -> str:
    """A client-sent string as it may appear in a log line."""
    return clean(value, 120)


__all__ = ["INPUT_PATHS", "Complaints", "Guard", "RateLimit", "Refusal", "peer_text"]
