"""The ``[api]`` table: where the API listens, its token and its caps.

Plain Python (no HTTP library): ``agentlight check`` reads it, and a bridge whose
config has no ``[api]`` never imports this module.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from bridge.api import DEFAULT_LISTEN
from bridge.infra.errors import ConfigError
from bridge.infra.secret import Secret

#: Where else the token may come from (after ``token`` and ``token_file``).
TOKEN_ENV = "AGENTLIGHT_API_TOKEN"
TOKEN_CREDENTIAL = "agentlight-api-token"
#: A token shorter than this is refused: on a network it is the only lock.
MIN_TOKEN = 16
_MAX_FILE = 64 * 1024  # a token file, never a file this big


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """``[api]`` keys.

    :param listen: ``HOST:PORT`` (``[::1]:PORT`` for IPv6); HOST is an IP address
        or ``localhost``. Anything but a loopback address needs a token. Port 0
        takes any free port (the discovery file says which).
    :param token: required as ``Authorization: Bearer …`` on every request when
        set. Falls back to ``token_file``, the systemd credential
        ``agentlight-api-token``, then ``$AGENTLIGHT_API_TOKEN``.
    :param token_file: a file holding the token (a regular file, at most 64 KiB).
    :param allow_origins: web origins (``https://dash.example:8443``) whose pages
        may use the API; every other request with an ``Origin`` is refused.
    :param allow_hosts: host names clients may use to reach a non-loopback
        listen address (``pi.local``); IP addresses and ``localhost`` always work.
    :param max_connections: open connections at once (event streams included);
        one more is answered 503.
    :param max_body: largest request body, bytes (413 beyond).
    :param max_header: longest request line or header, bytes (400 beyond).
    :param rate: requests per second from one client address (429 beyond)…
    :param burst: …after a burst of this many.
    :param client_timeout: seconds a client gets to send its request (line,
        headers, body) and an idle connection stays open; an event stream whose
        reader takes longer than this to accept an event is closed.
    :param keepalive: seconds between keepalive comments on an event stream.
    """

    listen: str = DEFAULT_LISTEN
    token: Secret | None = None
    token_file: str | None = None
    allow_origins: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    max_connections: int = 256
    max_body: int = 64 * 1024
    max_header: int = 8190
    rate: float = 50.0
    burst: int = 100
    client_timeout: float = 10.0
    keepalive: float = 15.0

    def __post_init__(self) -> None:
        parse_listen(self.listen)
        token = self.token
        if isinstance(token, str):  # code (tests, embedding apps) may pass a plain string
            token = Secret(token)
        if token is not None and not token.reveal().strip():
            token = None
        object.__setattr__(self, "token", None if token is None else check_token(token, "token"))
        if self.token_file is not None:
            read_token_file(self.token_file)
        object.__setattr__(
            self, "allow_origins", tuple(check_origin(o) for o in self.allow_origins)
        )
        object.__setattr__(self, "allow_hosts", tuple(check_host(h) for h in self.allow_hosts))
        for name, low in (
            ("max_connections", 1),
            ("max_body", 1024),
            ("max_header", 1024),
            ("burst", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or value < low:
                raise ValueError(f"{name}: got {value!r}, expected a whole number >= {low}")
        for name in ("rate", "client_timeout", "keepalive"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: got {getattr(self, name)!r}, expected a number > 0")

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (IP address, port); ``localhost`` is 127.0.0.1."""
    spec = text.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        sep, port_text = rest[:1], rest[1:]
    else:
        host, sep, port_text = spec.rpartition(":")
    if not sep or not host:
        raise ValueError(f"listen: got {text!r}, expected HOST:PORT, e.g. {DEFAULT_LISTEN!r}")
    if host.lower() == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"listen: got {text!r}; the host must be an IP address (127.0.0.1, ::1, 0.0.0.0, "
            "a LAN address) or localhost"
        ) from None
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"listen: got {text!r}; the port must be a number from 0 to 65535")
    return str(address), int(port_text)


def check_token(value: Secret, where: str) -> Secret:
    """Strip a token and check it can go in a header and is long enough (never echoed)."""
    text = value.reveal().strip()
    if not all(33 <= ord(ch) <= 126 for ch in text):
        raise ValueError(
            f"{where}: expected printable ASCII without spaces (the value is not shown)"
        )
    if len(text) < MIN_TOKEN:
        raise ValueError(
            f"{where}: {len(text)} characters, expected at least {MIN_TOKEN} (the value is not "
            "shown); e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return Secret(text)


def read_token_file(path: str) -> Secret | None:
    """The token in ``path``: a regular file of at most 64 KiB (None when it is empty).

    Read through :func:`bridge.infra.files.read_limited` (non-blocking, regular files
    only, capped); errors never repeat the contents nor the path (users paste the
    token itself where the path should go).
    """
    from bridge.infra.files import FileRefused, read_limited

    try:
        data = read_limited(path, limit=_MAX_FILE, what="token_file", show_path=False)
    except FileRefused as err:
        raise ValueError(str(err)) from None
    except OSError as err:
        raise ValueError(
            f"token_file: cannot read that file ({err.strerror or err}; the value is not "
            "shown, in case it is a token pasted instead of a path)"
        ) from None
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("token_file: not UTF-8 text (the contents are not shown)") from None
    return check_token(Secret(text), "token_file") if text else None


def resolve_token(options: ApiOptions) -> Secret | None:
    """The token the API requires: ``token``, ``token_file``, the systemd credential
    ``agentlight-api-token``, then ``$AGENTLIGHT_API_TOKEN`` (None: no token set)."""
    from bridge.infra.credentials import resolve_secret

    configured = options.token or (
        read_token_file(options.token_file) if options.token_file else None
    )
    value = resolve_secret(configured, TOKEN_ENV, TOKEN_CREDENTIAL)
    if value is None:
        return None
    try:
        return check_token(value, f"{TOKEN_ENV} (or the systemd credential {TOKEN_CREDENTIAL})")
    except ValueError as err:
        raise ConfigError(str(err), file="environment", key="api.token") from None


def check_origin(origin: str) -> str:
    """``scheme://host[:port]`` as a browser sends it in ``Origin`` (lower case)."""
    text = origin.strip().lower()
    parts = urlsplit(text)
    if text in ("*", "null") or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"allow_origins: got {origin!r}, expected an origin such as "
            "'https://dashboard.example' (each one listed; no '*' or 'null')"
        )
    if parts.path or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"allow_origins: got {origin!r}; an origin is scheme://host[:port], nothing more"
        )
    return text


def check_host(host: str) -> str:
    """A host name (no port) clients may put in ``Host``."""
    text = host.strip().lower().rstrip(".")
    if not text or len(text) > 253 or not all(ch.isalnum() or ch in "-." for ch in text):
        raise ValueError(
            f"allow_hosts: got {host!r}, expected a host name such as 'pi.local' (no port)"
        )
    return text


def aiohttp_missing() -> bool:
    """True when the API's server library is not installed (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("aiohttp") is None


INSTALL_HINT = 'the [api] table needs aiohttp: pip install "agentlight[api]"'

__all__ = [
    "INSTALL_HINT",
    "TOKEN_CREDENTIAL",
    "TOKEN_ENV",
    "ApiOptions",
    "aiohttp_missing",
    "check_token",
    "parse_listen",
    "read_token_file",
    "resolve_token",
]
